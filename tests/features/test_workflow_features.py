"""features.smk: params-triggered reruns and a real run of the stage on the tiny models.

The stage is exercised through a small Snakefile that includes common.smk + features.smk only,
over hand-made data-stage outputs (items.parquet, interactions.parquet, raw/image_features.b),
so these tests do not depend on the data stage's downloads.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from feature_fakes import make_items

from vlmrec.config import REPO_ROOT
from vlmrec.features.amazon_cnn import write_image_features
from vlmrec.features.specs import feature_set_files as spec_files
from vlmrec.features.tiny_models import TINY_MODEL_NAMES


def feature_set_files(strategy: str) -> list[str]:
    """File names of a demo strategy's feature set (declared ones included)."""
    return spec_files(strategy, _demo_config()["features"])


SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")  # the one installed next to this python
STAGE_SNAKEFILE = f"""
from snakemake.utils import validate
validate(config, "{REPO_ROOT}/config/schema.yaml")
include: "{REPO_ROOT}/workflow/rules/common.smk"
include: "{REPO_ROOT}/workflow/rules/features.smk"
rule all:
    input: feature_targets()
"""
MMREC_FILES = ("{dataset}.inter", "image_feat.npy", "text_feat.npy")


def _demo_config() -> dict[str, Any]:
    return yaml.safe_load((REPO_ROOT / "config" / "demo.yaml").read_text())


def _setup(workdir: Path, config: dict[str, Any], fake_models: bool) -> None:
    (workdir / "Snakefile").write_text(STAGE_SNAKEFILE)
    for dataset in config["datasets"]:
        root = workdir / "results" / dataset
        items = pd.read_parquet(make_items(root))
        write_image_features(
            root / "raw" / "image_features.b", items["asin"].tolist()[1:], np.ones((len(items) - 1, 4096))
        )
        pd.DataFrame(
            {
                "user_id": [0, 0, 1],
                "item_id": [0, 1, 2],
                "rating": [5.0, 4.0, 3.0],
                "timestamp": [1, 2, 3],
                "split": ["train", "valid", "test"],
            }
        ).to_parquet(root / "interactions.parquet")
    if fake_models:
        for name in TINY_MODEL_NAMES:
            (workdir / "resources" / "models" / name).mkdir(parents=True)


def _write_config(workdir: Path, config: dict[str, Any], name: str = "config.yaml") -> Path:
    path = workdir / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _snakemake(workdir: Path, configfile: Path, *args: str) -> str:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [SNAKEMAKE, "-s", "Snakefile", "--configfile", str(configfile), "--cores", "2", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout + done.stderr


def _planned(output: str) -> dict[str, int]:
    """Job counts of a dry run ({} when nothing is to be done)."""
    if "Nothing to be done" in output:
        return {}
    table = output.split("Job stats:", 1)[1].split("total", 1)[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", table, flags=re.M)}


def _touch_all_outputs(workdir: Path, config: dict[str, Any]) -> None:
    for dataset in config["datasets"]:
        for strategy in config["features"]["strategies"]:
            for name in feature_set_files(strategy):
                path = workdir / "results" / dataset / "features" / strategy / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.touch()
            for name in MMREC_FILES:
                path = workdir / "results" / dataset / "mmrec" / strategy / name.format(dataset=dataset)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.touch()


@pytest.fixture(scope="module")
def _touched(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working directory whose feature outputs are all up to date (via --touch); shared by the
    dry-run tests below, which never change it."""
    tmp_path = tmp_path_factory.mktemp("touched")
    config = _demo_config()
    _setup(tmp_path, config, fake_models=True)
    configfile = _write_config(tmp_path, config)
    plan = _planned(_snakemake(tmp_path, configfile, "-n"))
    n_datasets = len(config["datasets"])
    assert plan["extract_prompt2"] == n_datasets and plan["combine_dual"] == n_datasets
    assert plan["export_mmrec"] == n_datasets * len(config["features"]["strategies"])
    # --touch over missing outputs records each job's metadata (params included) without running
    # it; the files themselves are then created, newer than their inputs.
    _snakemake(tmp_path, configfile, "--touch")
    _touch_all_outputs(tmp_path, config)
    assert _planned(_snakemake(tmp_path, configfile, "-n")) == {}
    return tmp_path


@pytest.fixture()
def touched_workdir(_touched: Path) -> tuple[Path, dict[str, Any]]:
    return _touched, _demo_config()


def test_editing_prompt2_reruns_only_prompt2(touched_workdir) -> None:
    workdir, config = touched_workdir
    config["features"]["prompts"]["prompt2"] = config["features"]["prompts"]["prompt2"].replace(
        "Product details:", "Details:"
    )
    output = _snakemake(workdir, _write_config(workdir, config, "edited.yaml"), "-n")
    assert _planned(output) == {"extract_prompt2": 2, "export_mmrec": 2, "all": 1}
    assert "params have changed" in output.lower()


def test_editing_an_encoder_setting_reruns_its_strategies(touched_workdir) -> None:
    workdir, config = touched_workdir
    config["features"]["text_encoder"]["pooling"] = "mean"
    plan = _planned(_snakemake(workdir, _write_config(workdir, config, "bert.yaml"), "-n"))
    assert plan == {"extract_original": 2, "export_mmrec": 2, "all": 1}

    config["features"]["text_encoder"]["pooling"] = "cls"
    config["features"]["vlm2vec"]["max_text_length"] = 100
    plan = _planned(_snakemake(workdir, _write_config(workdir, config, "vlm.yaml"), "-n"))
    vlm2vec = ("extract_visual", "extract_textual", "extract_prompt1", "extract_prompt2")
    assert plan == {
        **dict.fromkeys(vlm2vec, 2),
        "combine_dual": 2,
        "combine_dual_concat": 2,
        "export_mmrec": 12,
        "all": 1,
    }


def test_editing_a_declared_strategy_reruns_only_it(touched_workdir) -> None:
    """A declared strategy's template is its rule's param: only that strategy is redone; an
    encoder's setting reruns exactly the strategies declared on that encoder."""
    workdir, config = touched_workdir
    config["features"]["declared"]["clip_textual"]["template"] = "a product: {text}"
    plan = _planned(_snakemake(workdir, _write_config(workdir, config, "template.yaml"), "-n"))
    assert plan == {"extract_clip_textual": 2, "export_mmrec": 2, "all": 1}

    config = _demo_config()
    config["features"]["encoders"]["clip"]["normalize"] = False
    plan = _planned(_snakemake(workdir, _write_config(workdir, config, "clip.yaml"), "-n"))
    clip = ("extract_clip_visual", "extract_clip_textual", "extract_clip_mean")
    assert plan == {**dict.fromkeys(clip, 2), "export_mmrec": 6, "all": 1}

    config = _demo_config()
    config["features"]["declared"]["siglip_mean"]["fusion"] = "concat"
    plan = _planned(_snakemake(workdir, _write_config(workdir, config, "fusion.yaml"), "-n"))
    assert plan == {"extract_siglip_mean": 2, "export_mmrec": 2, "all": 1}


@pytest.mark.slow
def test_stage_runs_on_tiny_models(tmp_path: Path) -> None:
    """The real rules, scripts and tiny models for one dataset; then a prompt edit is planned."""
    config = _demo_config()
    config["datasets"] = {"demo_baby": config["datasets"]["demo_baby"]}
    # models.<m>.strategies must be among the strategies kept below (validated at start-up)
    config["models"] = {"freedom": config["models"]["freedom"]}
    config["features"]["strategies"] = [
        "visual", "textual", "prompt2", "dual_concat", "original", "clip_visual", "clip_textual", "clip_mean",
    ]  # fmt: skip
    split = config["split"]  # the cold-start subset must stay among the strategies (validated)
    split["cold_strategies"] = [s for s in split["cold_strategies"] if s in config["features"]["strategies"]]
    _setup(tmp_path, config, fake_models=False)
    configfile = _write_config(tmp_path, config)
    _snakemake(tmp_path, configfile)
    items = pd.read_parquet(tmp_path / "results" / "demo_baby" / "items.parquet")
    features = tmp_path / "results" / "demo_baby" / "features"
    for strategy in config["features"]["strategies"]:
        for name in feature_set_files(strategy)[:-1]:
            matrix = np.load(features / strategy / name)
            assert matrix.dtype == np.float32 and matrix.shape[0] == len(items)
            assert np.isfinite(matrix).all()
    visual = np.load(features / "visual" / "image.npy")
    textual = np.load(features / "textual" / "text.npy")
    np.testing.assert_array_equal(
        np.load(features / "dual_concat" / "fused.npy"), np.hstack([visual, textual])
    )
    np.testing.assert_allclose(np.linalg.norm(textual, axis=1), 1.0, rtol=1e-5)  # VLM2Vec: L2-normalised
    # clip_mean = the mean of the (unit) clip_visual and clip_textual vectors, item by item
    clip_image = np.load(features / "clip_visual" / "image.npy")
    clip_text = np.load(features / "clip_textual" / "text.npy")
    unit = clip_image / np.linalg.norm(clip_image, axis=1, keepdims=True)
    expected = (unit + clip_text) / 2
    np.testing.assert_allclose(np.load(features / "clip_mean" / "fused.npy"), expected, rtol=1e-5, atol=1e-6)
    export = tmp_path / "results" / "demo_baby" / "mmrec" / "prompt2"
    assert (export / "demo_baby.inter").read_text().startswith("userID\titemID\trating\ttimestamp\tx_label\n")
    config["features"]["prompts"]["prompt2"] += " Be brief."
    plan = _planned(_snakemake(tmp_path, _write_config(tmp_path, config, "edited.yaml"), "-n"))
    assert plan == {"extract_prompt2": 1, "export_mmrec": 1, "all": 1}
