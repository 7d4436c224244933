"""MMRec export: .inter format and feature files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from feature_fakes import FakeFactory

from vlmrec.features.export import export_mmrec
from vlmrec.features.registry import build_feature_set, strategy_params


def _interactions(path: Path) -> Path:
    frame = pd.DataFrame(
        {
            "user_id": [0, 0, 1, 1],
            "item_id": [3, 1, 11, 0],
            "rating": np.array([5.0, 4.0, 3.0, 1.0], dtype=np.float32),
            "timestamp": [1373932800, 1373932801, 5, 6],
            "split": ["train", "valid", "test", "train"],
        }
    )
    frame.to_parquet(path, index=False)
    return path


def _built(items_path: Path, strategy: str, features_config: dict) -> Path:
    """The strategy's feature set next to items.parquet, built with the fake encoders."""
    features = items_path.parent / "features" / strategy
    params = strategy_params(strategy, features_config)
    build_feature_set(strategy, items_path, features, params, encoder_factory=FakeFactory())
    return features


def test_export_inter_and_two_modalities(items_path: Path, features_config: dict, tmp_path: Path) -> None:
    features = _built(items_path, "original", features_config)
    out = tmp_path / "mmrec" / "original"
    export_mmrec(_interactions(items_path.parent / "interactions.parquet"), features, out, "ds")
    lines = (out / "ds.inter").read_text().splitlines()
    assert lines[0] == "userID\titemID\trating\ttimestamp\tx_label"
    assert lines[1:] == [
        "0\t3\t5.0\t1373932800\t0",
        "0\t1\t4.0\t1373932801\t1",
        "1\t11\t3.0\t5\t2",
        "1\t0\t1.0\t6\t0",
    ]
    np.testing.assert_array_equal(np.load(out / "image_feat.npy"), np.load(features / "image.npy"))
    np.testing.assert_array_equal(np.load(out / "text_feat.npy"), np.load(features / "text.npy"))
    assert np.load(out / "image_feat.npy").dtype == np.float32


def test_export_fused_goes_to_both_files(items_path: Path, features_config: dict, tmp_path: Path) -> None:
    features = _built(items_path, "prompt1", features_config)
    out = tmp_path / "mmrec"
    export_mmrec(_interactions(tmp_path / "i.parquet"), features, out, "ds")
    fused = np.load(features / "fused.npy")
    np.testing.assert_array_equal(np.load(out / "image_feat.npy"), fused)
    np.testing.assert_array_equal(np.load(out / "text_feat.npy"), fused)


def test_export_rejects_unknown_split_and_out_of_range_items(
    items_path: Path, features_config: dict, tmp_path: Path
) -> None:
    features = _built(items_path, "textual", features_config)
    path = _interactions(tmp_path / "i.parquet")
    frame = pd.read_parquet(path)
    frame.loc[0, "item_id"] = 12
    frame.to_parquet(path)
    with pytest.raises(ValueError, match="item ids exceed the 12 rows"):
        export_mmrec(path, features, tmp_path / "x", "ds")
