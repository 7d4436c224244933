"""build_dataset on the demo data through the library functions: the data contract holds."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vlmrec.data.build import (
    BuildOptions,
    DatasetOutputs,
    build_dataset,
    build_mmrec_dataset,
    copy_provided_feature,
    filter_interactions,
)
from vlmrec.data.demo import generate_demo
from vlmrec.data.download import DownloadOptions
from vlmrec.data.images import ImageOptions, download_images
from vlmrec.utils.io import read_json

INTERACTION_COLUMNS = ["user_id", "item_id", "rating", "timestamp", "split"]
ITEM_COLUMNS = [
    "item_id",
    "asin",
    "title",
    "category",
    "text",
    "brand",
    "description",
    "category_path",
    "image_path",
    "image_status",
]


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("demo")
    files = generate_demo(root / "raw", "Baby", n_users=300, n_items=80, seed=3)
    interim, items_meta = root / "interim" / "kcore.parquet", root / "interim" / "items_meta.parquet"
    filter_interactions(files.ratings, files.meta, "amazon2014", 5, interim, items_meta, 0.05)
    manifest = root / "images" / "manifest.parquet"
    download_images(items_meta, manifest, ImageOptions(workers=2), DownloadOptions(), 0.5)
    return {"root": root, "interim": interim, "items_meta": items_meta, "manifest": manifest}


def build(staged: dict[str, Path], name: str, **options: object) -> tuple[DatasetOutputs, dict]:
    outputs = DatasetOutputs.in_dir(staged["root"] / name)
    stats = build_dataset(
        staged["interim"], staged["items_meta"], staged["manifest"], outputs, BuildOptions(**options), name
    )
    return outputs, stats


def assert_kcore(interactions: pd.DataFrame, k: int) -> None:
    assert interactions.groupby("user_id").size().min() >= k
    assert interactions.groupby("item_id").size().min() >= k


def test_contract_files(staged: dict[str, Path]) -> None:
    outputs, stats = build(staged, "mean")
    inter = pd.read_parquet(outputs.interactions)
    items = pd.read_parquet(outputs.items)
    assert inter.columns.tolist() == INTERACTION_COLUMNS
    assert [str(inter[c].dtype) for c in INTERACTION_COLUMNS[:4]] == ["int64", "int64", "float32", "int64"]
    assert set(inter["split"]) == {"train", "valid", "test"}
    assert items.columns.tolist() == ITEM_COLUMNS
    assert items["item_id"].tolist() == list(range(len(items)))
    assert inter["user_id"].max() + 1 == stats["users"] == inter["user_id"].nunique()
    assert inter["item_id"].max() + 1 == stats["items"] == len(items)
    assert stats["interactions"] == len(inter)
    assert stats["split"] == inter["split"].value_counts().to_dict()
    assert stats["density"] == pytest.approx(len(inter) / (stats["users"] * stats["items"]))
    assert_kcore(inter, 5)
    per_user = inter.groupby("user_id")["split"].value_counts().unstack(fill_value=0)
    assert (per_user[["train", "valid", "test"]] >= 1).all().all()

    # Dense ids in order of first appearance in the filtered file (MMRec's pd.unique).
    kcore = pd.read_parquet(staged["interim"])
    item_map = pd.read_csv(outputs.item_map)
    assert item_map["asin"].tolist() == pd.unique(kcore["item"]).tolist()
    assert items["asin"].tolist() == item_map["asin"].tolist()
    user_map = pd.read_csv(outputs.user_map)
    assert user_map["original_id"].tolist() == pd.unique(kcore["user"]).tolist()

    # Images: ok rows point to RGB files; others are null with their reason.
    ok = items["image_status"] == "ok"
    assert items.loc[ok, "image_path"].map(lambda p: Path(p).exists()).all()
    assert items.loc[~ok, "image_path"].isna().all()
    # Missing paths read back as NaN (pandas' `str` dtype), never as pd.NA or the string "None".
    assert all(isinstance(v, float) for v in items.loc[~ok, "image_path"].tolist())
    assert stats["missing_images"] == int((~ok).sum()) > 0

    # Text: the template, HTML entities unescaped, the missing title handled.
    assert not items["text"].str.contains("&amp;|&quot;|&lt;").any()
    full = (items["title"] != "") & (items["category"] != "")
    assert (items["text"] == items["title"] + ", category: " + items["category"])[full].all()
    assert (items["text"] == "category: " + items["category"])[items["title"] == ""].all()
    assert (items["text"] == items["title"])[items["category"] == ""].all()
    assert (items["title"] == "").sum() == 1 and (items["category"] == "").sum() == 1
    assert stats["expected_stats_match"] is None


def test_missing_policy_drop_removes_items_and_keeps_kcore(staged: dict[str, Path]) -> None:
    outputs, stats = build(staged, "drop", missing_policy="drop")
    items = pd.read_parquet(outputs.items)
    assert (items["image_status"] == "ok").all()
    assert stats["items_dropped_for_missing_images"] > 0
    assert_kcore(pd.read_parquet(outputs.interactions), 5)


def test_split_methods_and_template(staged: dict[str, Path]) -> None:
    outputs, _ = build(
        staged,
        "temporal",
        split_method="per_user_temporal",
        text_template="{title} | {brand} | {category_path}",
    )
    inter = pd.read_parquet(outputs.interactions)
    for _, rows in inter.groupby("user_id"):
        assert (
            rows.loc[rows["split"] == "train", "timestamp"].max()
            <= rows.loc[rows["split"] == "test", "timestamp"].min()
        )
    items = pd.read_parquet(outputs.items)
    assert items["text"].str.contains(r" \| ").all()
    with pytest.raises(ValueError, match="preprocess.text_template"):
        build(staged, "bad", text_template="{titel}")


def test_expected_stats_mismatch_is_loud(staged: dict[str, Path], caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        outputs, stats = build(staged, "expected", expected_stats={"users": 19445, "items": 7050})
    assert stats["expected_stats_match"] is False
    saved = read_json(outputs.stats)
    assert saved["expected_stats_mismatch"]["users"]["expected"] == 19445
    assert "DOES NOT MATCH expected_stats" in caplog.text
    _, same = build(staged, "expected2", expected_stats={"users": saved["users"], "items": saved["items"]})
    assert same["expected_stats_match"] is True


def test_mmrec_folder(tmp_path: Path) -> None:
    folder = tmp_path / "mmrec"
    folder.mkdir()
    rows = ["userID\titemID\trating\ttimestamp\tx_label"]
    rows += [
        f"{u}\t{i}\t5.0\t{100 + i}\t{0 if i < 3 else (1 if i == 3 else 2)}"
        for u in range(3)
        for i in range(5)
    ]
    (folder / "toy.inter").write_text("\n".join(rows) + "\n")
    (folder / "i_id_mapping.csv").write_text("asin\titemID\n" + "".join(f"X{i}\t{i}\n" for i in range(6)))
    np.save(folder / "image_feat.npy", np.ones((6, 4), dtype=np.float32))
    outputs = DatasetOutputs.in_dir(tmp_path / "out")
    stats = build_mmrec_dataset(folder, "toy.inter", outputs, BuildOptions(), "toy")
    items = pd.read_parquet(outputs.items)
    assert items["asin"].tolist() == [f"X{i}" for i in range(6)]  # item 5 has no interactions, still a row
    assert stats["split"] == {"train": 9, "valid": 3, "test": 3} and stats["source"] == "mmrec"
    assert pd.read_parquet(outputs.interactions)["split"].tolist()[:5] == ["train"] * 3 + ["valid", "test"]
    copy_provided_feature(folder / "image_feat.npy", tmp_path / "out" / "raw" / "image_feat.npy")
    assert np.load(tmp_path / "out" / "raw" / "image_feat.npy").shape == (6, 4)
    with pytest.raises(FileNotFoundError, match="text_feat.npy"):
        copy_provided_feature(folder / "text_feat.npy", tmp_path / "out" / "raw" / "text_feat.npy")


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"title": "Crib", "category": "Nursery"}, "Crib, category: Nursery"),
        ({"title": "", "category": "Nursery"}, "category: Nursery"),
        ({"title": "Crib", "category": ""}, "Crib"),
        ({"title": "", "category": ""}, ""),
    ],
)
def test_fill_template_missing_fields(fields: dict[str, str], expected: str) -> None:
    from vlmrec.data.text import fill_template

    assert fill_template("{title}, category: {category}", fields) == expected
