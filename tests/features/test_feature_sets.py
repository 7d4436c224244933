"""Feature sets: alignment with items.parquet, mean fill, manifests, reuse strategies."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from feature_fakes import MISSING, FakeFactory, fake_vector

from vlmrec.features.base import EncoderInput
from vlmrec.features.manifest import check_matrix
from vlmrec.features.registry import (
    build_feature_set,
    feature_set_files,
    load_feature_set,
    strategy_params,
)
from vlmrec.features.shards import load_image


def _build(strategy: str, items_path: Path, config: dict, **kwargs) -> dict:
    out = items_path.parent / "features" / strategy
    return build_feature_set(strategy, items_path, out, strategy_params(strategy, config), **kwargs)


def _load(items_path: Path, strategy: str) -> dict[str, np.ndarray]:
    return load_feature_set(items_path.parent / "features" / strategy)


def test_rows_align_with_items(items_path: Path, features_config: dict) -> None:
    """Row i of every matrix is item i, whatever order the runner encoded them in."""
    _build("textual", items_path, features_config, encoder_factory=FakeFactory())
    _build("visual", items_path, features_config, encoder_factory=FakeFactory())
    items = pd.read_parquet(items_path)
    text = _load(items_path, "textual")["text"]
    image = _load(items_path, "visual")["image"]
    assert text.dtype == np.float32 and text.shape == (len(items), 8)
    for i, row in items.iterrows():
        np.testing.assert_array_equal(text[i], fake_vector(EncoderInput(text=row["text"])))
        if isinstance(row["image_path"], str):
            expected = fake_vector(EncoderInput("<|image_pad|>", load_image(row["image_path"], 224)))
            np.testing.assert_array_equal(image[i], expected)


def test_missing_images_get_the_mean(items_path: Path, features_config: dict) -> None:
    manifest = _build("visual", items_path, features_config, encoder_factory=FakeFactory())
    image = _load(items_path, "visual")["image"]
    present = np.array([i not in MISSING for i in range(len(image))])
    mean = image[present].mean(axis=0)
    for i in MISSING:
        np.testing.assert_allclose(image[i], mean, rtol=1e-6)
    assert not np.allclose(image[present][0], mean)
    assert manifest["missing_images"] == len(MISSING) and manifest["missing_policy"] == "mean"


def test_original_mean_fills_image_only(items_path: Path, features_config: dict) -> None:
    manifest = _build("original", items_path, features_config, encoder_factory=FakeFactory())
    sets = _load(items_path, "original")
    assert sets["image"].shape == (12, 6) and sets["text"].shape == (12, 4)
    present = np.array([i not in MISSING for i in range(12)])
    np.testing.assert_allclose(sets["image"][~present], np.tile(sets["image"][present].mean(0), (2, 1)), 1e-6)
    assert len({tuple(r) for r in sets["text"]}) == 12  # text rows are all encoded, none filled
    assert manifest["models"] == {"image": "microsoft/resnet-50", "text": "bert-base-uncased"}
    assert manifest["text_pooling"] == "cls"


def test_textual_is_unaffected_by_missing_images(items_path: Path, features_config: dict) -> None:
    manifest = _build("textual", items_path, features_config, encoder_factory=FakeFactory())
    assert manifest["missing_images"] == 0 and manifest["missing_policy"] is None


def test_manifest_contents(items_path: Path, features_config: dict) -> None:
    manifest = _build("prompt2", items_path, features_config, encoder_factory=FakeFactory())
    on_disk = json.loads((items_path.parent / "features" / "prompt2" / "manifest.json").read_text())
    assert on_disk == json.loads(json.dumps(manifest))
    assert on_disk["strategy"] == "prompt2"
    assert on_disk["modalities"] == {"fused": {"file": "fused.npy", "dim": 8}}
    assert on_disk["model"] == "Qwen/Qwen2-VL-2B-Instruct"
    assert on_disk["adapter"] == "VLM2Vec/VLM2Vec-V2.0"
    assert on_disk["prompt"] == features_config["prompts"]["prompt2"]
    assert on_disk["n_items"] == 12
    assert on_disk["missing_images"] == 2 and on_disk["missing_policy"] == "text_only"
    assert on_disk["device"] == "cpu"
    assert on_disk["library_versions"]["numpy"] == np.__version__
    assert on_disk["wall_time_s"] >= 0
    for key in ("prompt_hash", "content_hash", "items_sha256", "revision", "dtype", "params"):
        assert key in on_disk


def test_content_hash_follows_prompt_not_batch_size(items_path: Path, features_config: dict) -> None:
    first = _build("prompt1", items_path, features_config, encoder_factory=FakeFactory())
    features_config["vlm2vec"]["batch_size"] = 3
    second = _build("prompt1", items_path, features_config, encoder_factory=FakeFactory())
    assert second["content_hash"] == first["content_hash"]
    assert second["shards"]["fused"]["encoded"] == 0  # batch size does not invalidate the cache
    features_config["prompts"]["prompt1"] = "<|image_pad|> {text} Describe it."
    third = _build("prompt1", items_path, features_config, encoder_factory=FakeFactory())
    assert third["content_hash"] != first["content_hash"]
    assert third["prompt_hash"] != first["prompt_hash"]
    assert third["shards"]["fused"]["encoded"] == third["shards"]["fused"]["total"]


def test_dual_and_dual_concat_reuse(items_path: Path, features_config: dict) -> None:
    _build("visual", items_path, features_config, encoder_factory=FakeFactory())
    _build("textual", items_path, features_config, encoder_factory=FakeFactory())
    features = items_path.parent / "features"
    reused = {"visual": features / "visual", "textual": features / "textual"}

    def no_encoder(kind, settings):
        raise AssertionError("dual strategies must not encode")

    dual = _build("dual", items_path, features_config, reused_dirs=reused, encoder_factory=no_encoder)
    concat = _build(
        "dual_concat", items_path, features_config, reused_dirs=reused, encoder_factory=no_encoder
    )
    visual, textual = _load(items_path, "visual")["image"], _load(items_path, "textual")["text"]
    d = _load(items_path, "dual")
    np.testing.assert_array_equal(d["image"], visual)
    np.testing.assert_array_equal(d["text"], textual)
    fused = _load(items_path, "dual_concat")["fused"]
    assert fused.shape == (12, 16)
    np.testing.assert_array_equal(fused, np.concatenate([visual, textual], axis=1))
    assert concat["modalities"] == {"fused": {"file": "fused.npy", "dim": 16}}
    assert set(dual["sources"]) == {"visual", "textual"} and dual["missing_images"] == 2


def test_reuse_refuses_sets_from_other_items(items_path: Path, features_config: dict, tmp_path: Path) -> None:
    from feature_fakes import make_items

    other = make_items(tmp_path / "other", n_items=12, missing=())
    for strategy in ("visual", "textual"):
        _build(strategy, other, features_config, encoder_factory=FakeFactory())
    features = other.parent / "features"
    with pytest.raises(ValueError, match="another items.parquet"):
        _build(
            "dual", items_path, features_config, reused_dirs={s: features / s for s in ("visual", "textual")}
        )


def test_final_check_rejects_bad_matrices() -> None:
    with pytest.raises(RuntimeError, match="3 rows, items.parquet has 4"):
        check_matrix("image", np.zeros((3, 2)), 4)
    bad = np.zeros((4, 2))
    bad[2, 1] = np.nan
    with pytest.raises(RuntimeError, match=r"non-finite rows \(item ids \[2\]"):
        check_matrix("image", bad, 4)


def test_nonfinite_encoder_output_fails_before_writing(items_path: Path, features_config: dict) -> None:
    class NaNFactory(FakeFactory):
        def __call__(self, kind, settings):
            encoder = super().__call__(kind, settings)
            encoder.encode_batch = lambda batch: np.full((len(batch), 8), np.nan, dtype=np.float32)
            return encoder

    with pytest.raises(RuntimeError, match="non-finite"):
        _build("textual", items_path, features_config, encoder_factory=NaNFactory())
    assert not (items_path.parent / "features" / "textual").exists()


def test_items_contract_errors_name_the_file(tmp_path: Path, features_config: dict) -> None:
    path = tmp_path / "items.parquet"
    pd.DataFrame({"item_id": [1, 0], "text": ["a", "b"], "image_path": [None, None]}).to_parquet(path)
    with pytest.raises(ValueError, match="items.parquet: item_id must be 0..n_items-1"):
        build_feature_set("textual", path, tmp_path / "f", strategy_params("textual", features_config))


def test_feature_set_files() -> None:
    assert feature_set_files("dual") == ["image.npy", "text.npy", "manifest.json"]
    assert feature_set_files("prompt2") == ["fused.npy", "manifest.json"]


def test_provided_copies_mmrec_files(items_path: Path, features_config: dict) -> None:
    raw = items_path.parent / "raw"
    raw.mkdir()
    image, text = np.random.default_rng(0).random((12, 7)), np.random.default_rng(1).random((12, 3))
    np.save(raw / "image_feat.npy", image)
    np.save(raw / "text_feat.npy", text)
    manifest = _build("provided", items_path, features_config, raw_dir=raw)
    sets = _load(items_path, "provided")
    np.testing.assert_array_equal(sets["image"], image.astype(np.float32))
    np.testing.assert_array_equal(sets["text"], text.astype(np.float32))
    assert manifest["modalities"]["image"]["dim"] == 7
    np.save(raw / "text_feat.npy", text[:11])
    with pytest.raises(RuntimeError, match="11 rows, items.parquet has 12"):
        _build("provided", items_path, features_config, raw_dir=raw)
    (raw / "text_feat.npy").unlink()
    with pytest.raises(FileNotFoundError, match="text_feat.npy"):
        _build("provided", items_path, features_config, raw_dir=raw)


def test_no_image_at_all_is_a_clear_error(tmp_path: Path, features_config: dict) -> None:
    from feature_fakes import make_items

    items = make_items(tmp_path / "ds", n_items=4, missing=(0, 1, 2, 3))
    with pytest.raises(ValueError, match="no item has an image"):
        _build("visual", items, features_config, encoder_factory=FakeFactory())
