"""Config-declared strategies (features.encoders + features.declared) and the torch-free specs."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from feature_fakes import MISSING, FakeFactory, fake_vector

from vlmrec.features.base import EncoderInput
from vlmrec.features.manifest import load_feature_set, read_manifest
from vlmrec.features.registry import build_feature_set
from vlmrec.features.shards import load_image
from vlmrec.features.specs import (
    declared_spec,
    known_strategy_names,
    selected_specs,
    strategy_params,
    strategy_spec,
)

ENCODERS = {
    "clip": {"kind": "clip", "model": "some/clip"},
    "st": {"kind": "sentence_transformers", "model": "some/st"},
    "vlm": {"kind": "vlm2vec", "model": "some/vlm"},
}
DECLARED = {
    "c_img": {"encoder": "clip", "inputs": "image"},
    "c_txt": {"encoder": "clip", "inputs": "text", "template": "a photo of {text}"},
    "c_dual": {"encoder": "clip", "inputs": "both"},
    "c_cat": {"encoder": "clip", "inputs": "both", "fusion": "concat"},
    "c_mean": {"encoder": "clip", "inputs": "both", "fusion": "mean"},
    "st_txt": {"encoder": "st", "inputs": "text"},
    "v_joint": {"encoder": "vlm", "inputs": "both", "fusion": "joint", "template": "<|image_pad|> {text}"},
}


@pytest.fixture()
def config(features_config: dict[str, Any]) -> dict[str, Any]:
    return {**features_config, "encoders": copy.deepcopy(ENCODERS), "declared": copy.deepcopy(DECLARED)}


def test_specs_of_declared_strategies(config: dict[str, Any]) -> None:
    names = known_strategy_names(config)
    assert {"visual", "prompt2", "original"} <= set(names) and set(DECLARED) <= set(names)
    modalities = {name: strategy_spec(name, config).modalities for name in DECLARED}
    assert modalities == {
        "c_img": ("image",),
        "c_txt": ("text",),
        "c_dual": ("image", "text"),
        "c_cat": ("fused",),
        "c_mean": ("fused",),
        "st_txt": ("text",),
        "v_joint": ("fused",),
    }
    spec = strategy_spec("c_img", config)
    assert spec.encodes and spec.declared and spec.needs_images and not spec.needs_text
    assert strategy_spec("st_txt", config).needs_text and not strategy_spec("st_txt", config).needs_images
    assert strategy_spec("c_mean", config).files == ["fused.npy", "manifest.json"]
    config["strategies"] = ["original", "c_mean"]
    assert list(selected_specs(config)) == ["original", "c_mean"]


@pytest.mark.parametrize(
    ("entry", "kind", "message"),
    [
        ({"encoder": "e", "inputs": "image", "fusion": "mean"}, "clip", "fusion 'mean' needs inputs: both"),
        ({"encoder": "e", "inputs": "image"}, "sentence_transformers", "cannot encode image"),
        ({"encoder": "e", "inputs": "both"}, "hf_text", "cannot encode image"),
        ({"encoder": "e", "inputs": "both", "fusion": "joint"}, "clip", "cannot encode joint"),
        (
            {"encoder": "e", "inputs": "text", "template": "no field"},
            "clip",
            r"must contain the field \{text\}",
        ),
        ({"encoder": "e", "inputs": "text", "template": "<|image_pad|> {text}"}, "clip", "must not contain"),
        (
            {"encoder": "e", "inputs": "both", "fusion": "joint", "template": "{text}"},
            "vlm2vec",
            "exactly once",
        ),
        ({"encoder": "e", "inputs": "pixels"}, "clip", "inputs must be one of"),
        ({"encoder": "e", "inputs": "text"}, "word2vec", "kind 'word2vec' is not one of"),
    ],
)
def test_bad_declarations_name_the_key(entry: dict, kind: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as err:
        declared_spec("mine", entry, kind)
    assert "features.declared.mine" in str(err.value)


def test_unknown_names_list_the_known_ones(config: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="known: .*c_mean"):
        strategy_spec("clip_nope", config)
    config["declared"]["bad"] = {"encoder": "missing", "inputs": "text"}
    with pytest.raises(
        ValueError, match=r"features.declared.bad.encoder 'missing' is not in features.encoders"
    ):
        known_strategy_names(config)
    config["declared"] = {"visual": {"encoder": "clip", "inputs": "image"}}
    with pytest.raises(ValueError, match="already a built-in strategy"):
        known_strategy_names(config)


def test_params_carry_entry_and_encoder_only(config: dict[str, Any]) -> None:
    params = strategy_params("c_txt", config)
    assert set(params) == {"declared", "encoder", "runner"}
    assert params["declared"] == {
        "encoder": "clip",
        "inputs": "text",
        "template": "a photo of {text}",
        "fusion": "none",
    }
    assert params["encoder"] == ENCODERS["clip"]
    assert set(strategy_params("v_joint", config)) == {"declared", "encoder", "runner", "missing_image_fused"}
    # another strategy's template or another encoder does not enter these params
    before = strategy_params("c_mean", config)
    config["declared"]["c_txt"]["template"] = "{text}!"
    config["encoders"]["st"]["model"] = "other/st"
    assert strategy_params("c_mean", config) == before


def test_specs_module_is_torch_free() -> None:
    """Planning (Snakemake, config validation) must not import torch, numpy or pandas."""
    code = (
        "import sys\n"
        "from vlmrec.features.specs import known_strategy_names, strategy_params\n"
        "import yaml\n"
        "from vlmrec.config import REPO_ROOT\n"
        "cfg = yaml.safe_load((REPO_ROOT / 'config' / 'demo.yaml').read_text())['features']\n"
        "[strategy_params(s, cfg) for s in cfg['strategies']]\n"
        "print(sorted(m for m in ('torch', 'numpy', 'pandas', 'transformers') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def _build(
    name: str, items_path: Path, config: dict[str, Any], factory: FakeFactory
) -> dict[str, np.ndarray]:
    out = items_path.parent / "features" / name
    build_feature_set(name, items_path, out, strategy_params(name, config), encoder_factory=factory)
    return load_feature_set(out)


def _expected(items_path: Path, *, image: bool, template: str = "{text}") -> np.ndarray:
    """What the fake encoder gives for each item's image (None when missing) or filled text."""
    items = pd.read_parquet(items_path)
    rows = []
    for path, text in zip(items["image_path"], items["text"]):
        if image:
            rows.append(None if pd.isna(path) else fake_vector(EncoderInput(None, load_image(path)), 8))
        else:
            rows.append(fake_vector(EncoderInput(template.replace("{text}", text)), 8))
    return rows


def test_image_text_and_fusions(items_path: Path, config: dict[str, Any]) -> None:
    factory = FakeFactory()
    image_rows = _expected(items_path, image=True)
    present = [r for r in image_rows if r is not None]
    mean = np.mean(present, axis=0)
    image = np.stack([mean if r is None else r for r in image_rows]).astype(np.float32)
    text = np.stack(_expected(items_path, image=False, template="a photo of {text}"))

    got = _build("c_img", items_path, config, factory)["image"]
    np.testing.assert_allclose(got, image, rtol=1e-6)
    assert factory.built[-1][0] == "clip" and factory.built[-1][1] == {"model": "some/clip"}
    assert all(x.text is None for x in factory.built[-1][2].seen)  # a dual encoder gets the image alone
    np.testing.assert_allclose(_build("c_txt", items_path, config, factory)["text"], text, rtol=1e-6)

    plain = np.stack(_expected(items_path, image=False))
    dual = _build("c_dual", items_path, config, factory)
    np.testing.assert_allclose(dual["image"], image, rtol=1e-6)
    np.testing.assert_allclose(dual["text"], plain, rtol=1e-6)
    cat = _build("c_cat", items_path, config, factory)["fused"]
    np.testing.assert_allclose(cat, np.hstack([image, plain]), rtol=1e-6)
    fused = _build("c_mean", items_path, config, factory)["fused"]
    unit = lambda m: m / np.linalg.norm(m, axis=1, keepdims=True)  # noqa: E731
    np.testing.assert_allclose(fused, (unit(image) + unit(plain)) / 2, rtol=1e-5, atol=1e-6)
    manifest = read_manifest(items_path.parent / "features" / "c_mean")
    assert manifest["fusion"] == "mean" and manifest["kind"] == "clip" and manifest["model"] == "some/clip"
    assert manifest["missing_images"] == len(MISSING) and manifest["missing_policy"] == "mean"


def test_mean_fusion_refuses_two_widths(items_path: Path, config: dict[str, Any]) -> None:
    class Widths(FakeFactory):
        def __call__(self, kind: str, settings: Any) -> Any:
            encoder = super().__call__(kind, settings)
            encoder.dim = 8 if len(self.built) == 1 else 4
            return encoder

    with pytest.raises(ValueError, match="one width"):
        _build("c_mean", items_path, config, Widths())


def test_joint_vlm2vec_prompt(items_path: Path, config: dict[str, Any]) -> None:
    """fusion joint: one VLM2Vec prompt per item; items without an image get the text-only prompt."""
    factory = FakeFactory()
    _build("v_joint", items_path, config, factory)
    seen = factory.seen("vlm2vec")
    texts = pd.read_parquet(items_path)["text"].tolist()
    by_prompt = {x.text: x for x in seen}
    for i, text in enumerate(texts):
        if i in MISSING:
            assert by_prompt[text].image is None
        else:
            assert by_prompt[f"<|image_pad|> {text}"].image is not None
