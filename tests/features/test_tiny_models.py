"""The tiny offline stand-in models: deterministic, complete, loadable by the real code paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vlmrec.features.tiny_models import (
    TINY_BERT,
    TINY_MODEL_NAMES,
    TINY_QWEN2VL,
    TINY_QWEN2VL_LORA,
    TINY_RESNET,
    build_tiny_models,
)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    a, b = tmp_path_factory.mktemp("tiny_a"), tmp_path_factory.mktemp("tiny_b")
    build_tiny_models(a, seed=0)
    build_tiny_models(b, seed=0)
    return a, b


def test_same_seed_gives_byte_identical_files(two_builds: tuple[Path, Path]) -> None:
    a, b = two_builds
    files_a, files_b = _files(a), _files(b)
    assert sorted(files_a) == sorted(files_b)
    assert {name.split("/")[0] for name in files_a} == set(TINY_MODEL_NAMES)  # no staging dir left
    different = [name for name in files_a if files_a[name] != files_b[name]]
    assert different == []


def test_other_seed_gives_other_weights(two_builds: tuple[Path, Path], tmp_path: Path) -> None:
    build_tiny_models(tmp_path, seed=1)
    for name in (TINY_QWEN2VL, TINY_RESNET, TINY_BERT):
        weights = f"{name}/model.safetensors"
        assert (tmp_path / weights).read_bytes() != (two_builds[0] / weights).read_bytes()


def test_rebuild_replaces_in_place(tmp_path: Path) -> None:
    build_tiny_models(tmp_path, seed=0)
    (tmp_path / TINY_BERT / "stale.txt").write_text("old")
    build_tiny_models(tmp_path, seed=0)
    assert not (tmp_path / TINY_BERT / "stale.txt").exists()


def test_qwen2vl_tokenizer_and_config_fit_together(two_builds: tuple[Path, Path]) -> None:
    from transformers import AutoConfig, AutoTokenizer, Qwen2VLImageProcessor

    root = two_builds[0] / TINY_QWEN2VL
    tok = AutoTokenizer.from_pretrained(root)
    cfg = AutoConfig.from_pretrained(root)
    assert type(tok).__name__ == "Qwen2TokenizerFast"
    assert tok.convert_tokens_to_ids("<|image_pad|>") == cfg.image_token_id
    assert tok("<|image_pad|> a red stroller")["input_ids"][0] == cfg.image_token_id
    # The Qwen2 tokenizer adds neither BOS nor EOS (VLM2Vec pools the last prompt token).
    ids = tok("a red stroller")["input_ids"]
    assert tok.decode(ids) == "a red stroller"
    assert cfg.vocab_size == len(tok)
    assert Qwen2VLImageProcessor.from_pretrained(root).merge_size == cfg.vision_config.spatial_merge_size


def test_lora_adapter_names_its_sibling_base_and_is_non_zero(two_builds: tuple[Path, Path]) -> None:
    from safetensors.torch import load_file

    root = two_builds[0] / TINY_QWEN2VL_LORA
    cfg = json.loads((root / "adapter_config.json").read_text())
    assert cfg["base_model_name_or_path"] == TINY_QWEN2VL
    weights = load_file(root / "adapter_model.safetensors")
    b_mats = [w for k, w in weights.items() if "lora_B" in k]
    assert b_mats and all(float(w.abs().sum()) > 0 for w in b_mats)
    # LoRA sits on the language model only, as in VLM2Vec (vision blocks use other module names).
    assert not any(".visual." in k for k in weights)


def test_resnet_and_bert_load_with_auto_classes(two_builds: tuple[Path, Path]) -> None:
    from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

    resnet = AutoModel.from_pretrained(two_builds[0] / TINY_RESNET)
    assert type(resnet).__name__ == "ResNetModel"
    proc = AutoImageProcessor.from_pretrained(two_builds[0] / TINY_RESNET, use_fast=False)
    assert type(proc).__name__ == "ConvNextImageProcessor" and proc.crop_pct == 0.875
    tok = AutoTokenizer.from_pretrained(two_builds[0] / TINY_BERT)
    ids = tok("Baby stroller")["input_ids"]
    assert ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id
    assert tok.unk_token_id not in ids
