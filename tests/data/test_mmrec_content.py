"""MMRec's released split with real content: the 2014 metadata and images joined by asin."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from data_httpserver import scripted_server
from PIL import Image

from vlmrec.data.build import BuildOptions, DatasetOutputs, build_mmrec_dataset, join_mmrec_meta
from vlmrec.data.download import DownloadOptions, download_file
from vlmrec.data.images import ImageOptions, download_images
from vlmrec.data.sources import dataset_content, read_mmrec_inter
from vlmrec.utils.io import read_json

N_ITEMS, N_USERS = 12, 10
NO_META = 4  # itemID whose asin the metadata lacks
DEAD_IMAGE = 7  # itemID whose imUrl answers 404
FAST = DownloadOptions(retries=1, backoff_seconds=0.0, timeout_seconds=5.0)


def _asin(item: int) -> str:
    return f"B00TEST{item:03d}"


def _png(item: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (20 * item % 256, 40, 90)).save(buffer, format="PNG")
    return buffer.getvalue()


def _write_release(folder: Path) -> None:
    """A small folder in MMRec's released format: <name>.inter with x_label and i_id_mapping.csv."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = []
    for user in range(N_USERS):
        items = rng.choice(N_ITEMS, size=6, replace=False)
        for position, item in enumerate(items):
            label = 0 if position < 4 else position - 3  # 4 train, 1 valid, 1 test
            rows.append((user, int(item), 5.0, 1_400_000_000 + position, label))
    frame = pd.DataFrame(rows, columns=["userID", "itemID", "rating", "timestamp", "x_label"])
    frame.to_csv(folder / "toy.inter", sep="\t", index=False)
    order = rng.permutation(N_ITEMS)  # the mapping's row order is not the itemID order
    mapping = pd.DataFrame({"asin": [_asin(i) for i in order], "itemID": order})
    mapping.to_csv(folder / "i_id_mapping.csv", sep="\t", index=False)


def _meta_gz(base_url: str) -> bytes:
    lines = []
    for item in range(N_ITEMS + 3):  # three catalogue items outside the release
        if item == NO_META:
            continue
        record = {
            "asin": _asin(item),
            "title": f"Soft Baby Blanket &amp; Toy {item}",
            "categories": [["Baby", "Nursery", f"Blankets {item % 3}"]],
            "brand": "Acme",
            "imUrl": f"{base_url}/images/I/{item}.png",
        }
        lines.append(repr(record) + "\n")
    lines.insert(3, "{'asin': 'BROKEN', 'title': \n")  # one malformed line, as in the real files
    return gzip.compress("".join(lines).encode())


def test_release_gets_titles_and_images_and_keeps_mmrecs_split(tmp_path: Path) -> None:
    release = tmp_path / "release"
    _write_release(release)
    with scripted_server() as server:
        meta_url = server.add("/meta_Baby.json.gz", ("status", 503), ("ok", _meta_gz(server.base_url)))
        for item in range(N_ITEMS):
            if item == DEAD_IMAGE:
                server.add(f"/images/I/{item}.png", ("status", 404))
            else:
                server.add(f"/images/I/{item}.png", ("ok", _png(item)))
        meta = tmp_path / "raw" / "meta.json.gz"
        download_file(meta_url, meta, FAST)
        items_meta = tmp_path / "interim" / "mmrec_items_meta.parquet"
        join_mmrec_meta(release, meta, items_meta, max_missing_fraction=0.2, max_bad_meta_fraction=0.2)
        manifest = tmp_path / "images" / "manifest.parquet"
        download_images(items_meta, manifest, ImageOptions(workers=2), FAST, 0.5)

    outputs = DatasetOutputs.in_dir(tmp_path / "toy")
    stats = build_mmrec_dataset(
        release, "toy.inter", outputs, BuildOptions(source="mmrec"), "toy", items_meta, manifest
    )
    items = pd.read_parquet(outputs.items)
    assert list(items["item_id"]) == list(range(N_ITEMS))
    assert list(items["asin"]) == [_asin(i) for i in range(N_ITEMS)]  # row i = MMRec's itemID i
    assert items.loc[0, "text"] == "Soft Baby Blanket & Toy 0, category: Blankets 0"
    assert items.loc[NO_META, "text"] == "" and items.loc[NO_META, "image_status"] == "missing_url"
    assert items.loc[DEAD_IMAGE, "image_status"] == "http_error" and items.loc[DEAD_IMAGE, "text"]
    ok = items.drop(index=[NO_META, DEAD_IMAGE])
    assert (ok["image_status"] == "ok").all() and all(Path(p).is_file() for p in ok["image_path"])
    # The split and ids are the release's, unchanged.
    released = read_mmrec_inter(release / "toy.inter")
    ours = pd.read_parquet(outputs.interactions)
    pd.testing.assert_frame_equal(
        ours[["user_id", "item_id", "split"]], released[["user_id", "item_id", "split"]], check_dtype=False
    )
    assert stats["items_without_meta"] == 1 and stats["missing_images"] == 2
    assert read_json(outputs.stats)["split_method"] == "provided"


def test_join_refuses_when_too_many_items_lack_metadata(tmp_path: Path) -> None:
    release = tmp_path / "release"
    _write_release(release)
    meta = tmp_path / "meta.json.gz"
    meta.write_bytes(_meta_gz("http://127.0.0.1:9"))
    with pytest.raises(ValueError, match=r"1 of 12 items .* no meta record \(first: B00TEST004\)"):
        join_mmrec_meta(
            release, meta, tmp_path / "out.parquet", max_missing_fraction=0.05, max_bad_meta_fraction=0.2
        )
    assert not (tmp_path / "out.parquet").exists()


def test_join_needs_the_mapping_file(tmp_path: Path) -> None:
    release = tmp_path / "release"
    _write_release(release)
    (release / "i_id_mapping.csv").unlink()
    meta = tmp_path / "meta.json.gz"
    meta.write_bytes(_meta_gz("http://127.0.0.1:9"))
    with pytest.raises(FileNotFoundError, match="i_id_mapping.csv not found"):
        join_mmrec_meta(release, meta, tmp_path / "out.parquet")


def test_dataset_content(tmp_path: Path) -> None:
    (tmp_path / "image_feat.npy").write_bytes(b"")
    amazon = {"source": "amazon2014", "image_features_url": "http://x/image_features_Baby.b"}
    assert dataset_content(amazon) == {"text": True, "images": True, "raw": ["image_features.b"]}
    bare = {"source": "mmrec", "path": str(tmp_path)}
    assert dataset_content(bare) == {"text": False, "images": False, "raw": ["image_feat.npy"]}
    joined = {**bare, "meta_url": "http://x/meta_Baby.json.gz"}
    assert dataset_content(joined) == {"text": True, "images": True, "raw": ["image_feat.npy"]}
    assert dataset_content({**joined, "images": False})["images"] is False
    with pytest.raises(ValueError, match="amazon2014, amazon2018, mmrec"):
        dataset_content({"source": "amazon2023"})


def test_real_baby_release_with_joined_metadata(tmp_path: Path, baby_inter_path: Path) -> None:
    """The real released Baby split (first 10,250 users) joined with a metadata file by asin:
    ids and the split stay exactly the release's (72,296 / 11,250 / 12,142)."""
    release = tmp_path / "baby"
    release.mkdir()
    (release / "baby.inter").symlink_to(baby_inter_path)
    n_items = 7050  # the full release's catalogue (itemIDs of the sample range over all of it)
    pd.DataFrame({"asin": [f"B{i:09d}" for i in range(n_items)], "itemID": range(n_items)}).to_csv(
        release / "i_id_mapping.csv", sep="\t", index=False
    )
    lines = [
        repr({"asin": f"B{i:09d}", "title": f"Item {i}", "categories": [["Baby"]]}) for i in range(n_items)
    ]
    meta = tmp_path / "meta_Baby.json.gz"
    meta.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    items_meta = tmp_path / "items_meta.parquet"
    join_mmrec_meta(release, meta, items_meta, max_missing_fraction=0.0)
    outputs = DatasetOutputs.in_dir(tmp_path / "out")
    stats = build_mmrec_dataset(
        release, "baby.inter", outputs, BuildOptions(source="mmrec"), "baby", items_meta
    )
    assert stats["split"] == {"train": 72296, "valid": 11250, "test": 12142}
    assert stats["items"] == n_items and stats["items_without_meta"] == 0
    items = pd.read_parquet(outputs.items)
    assert items.loc[6999, "text"] == "Item 6999, category: Baby"
    assert (items["image_status"] == "no_source").all()


@pytest.mark.slow
def test_mmrec_release_through_snakemake(tmp_path: Path) -> None:
    """The data stage of an mmrec dataset with meta_url, run by Snakemake: download_meta,
    join_mmrec_meta, download_images (from the local HTTP server) and build_dataset."""
    import yaml
    from test_data_workflow import REPO, snakemake

    _write_release(tmp_path / "release")
    config = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    with scripted_server() as server:
        for item in range(N_ITEMS):
            server.add(f"/images/I/{item}.png", ("status", 404) if item == DEAD_IMAGE else ("ok", _png(item)))
        config["datasets"] = {
            "toy": {
                "source": "mmrec",
                "path": str(tmp_path / "release"),
                "inter_file": "toy.inter",
                "meta_url": server.add(
                    "/meta_Baby.json.gz", ("status", 429), ("ok", _meta_gz(server.base_url))
                ),
                "max_missing_meta_fraction": 0.2,
            },
            # Buildable but off: without the `enabled` filter its dry run would succeed.
            "off": {
                "source": "mmrec",
                "enabled": False,
                "path": str(tmp_path / "release"),
                "inter_file": "toy.inter",
            },
        }
        config["preprocess"]["max_bad_meta_fraction"] = 0.2
        config["split"]["cold_items"] = 0.0  # its cold_datasets name the demo's datasets (validated)
        configfile = tmp_path / "toy.yaml"
        configfile.write_text(yaml.safe_dump(config))
        run = snakemake(tmp_path, "results/toy/items.parquet", configfile=configfile)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "join_mmrec_meta" in run.stderr and "download_images" in run.stderr
    disabled = snakemake(tmp_path, "-n", "results/off/items.parquet", configfile=configfile)
    assert disabled.returncode != 0  # `enabled: false`: offered in the config, not built
    items = pd.read_parquet(tmp_path / "results" / "toy" / "items.parquet")
    assert items.loc[1, "text"].startswith("Soft Baby Blanket & Toy 1")
    assert (items["image_status"] == "ok").sum() == N_ITEMS - 2


@pytest.mark.slow
def test_paper_config_offers_the_release_variant(tmp_path: Path) -> None:
    """config.yaml plans both Original rows; the overlay turns baby_mmrec on (off by default)."""
    from test_data_workflow import REPO, snakemake

    release = tmp_path / "data" / "mmrec" / "baby"
    _write_release(release.parent / "toy")
    (release.parent / "toy").rename(release)
    (release / "toy.inter").rename(release / "baby.inter")
    for name in ("image_feat.npy", "text_feat.npy"):
        np.save(release / name, np.zeros((N_ITEMS, 4), dtype=np.float32))
    paper = REPO / "config" / "config.yaml"
    overlay = [str(paper), str(REPO / "config" / "mmrec_release.yaml")]
    targets = [
        "results/baby/runs/freedom/original/metrics.json",
        "results/baby/runs/freedom/mmrec_original/metrics.json",
        "results/baby_mmrec/runs/freedom/textual/metrics.json",
        "results/baby_mmrec/raw/image_feat.npy",
    ]
    run = snakemake(tmp_path, "-n", *targets, "--configfile", *overlay)
    assert run.returncode == 0, run.stderr[-3000:]
    for rule in ("download_meta", "join_mmrec_meta", "download_images", "build_dataset", "extract_textual"):
        assert rule in run.stdout, rule
    for rule in ("extract_original", "extract_mmrec_original", "copy_provided_features"):
        assert rule in run.stdout, rule
    assert "results/baby_mmrec/interim/kcore.parquet" not in run.stdout  # the release's split is kept
