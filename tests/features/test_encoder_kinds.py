"""Exactness of every encoder kind (issue 11): our batched, padded, sharded extraction through the
runner equals the library's own reference call item by item (cosine >= 0.99999 in fp32),
whatever the batch composition. Tiny randomly initialised models, built offline.

VLM2Vec's exactness against the stock Qwen2-VL forward is tested in test_vlm2vec.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from vlmrec.features.factory import default_encoder_factory
from vlmrec.features.model_loading import refuse_remote_code
from vlmrec.features.shards import EncodeJob, encode_resumable, load_image
from vlmrec.features.tiny_models import (
    TINY_BERT,
    TINY_BLIP,
    TINY_CLIP,
    TINY_RESNET,
    TINY_SIGLIP,
    TINY_SIGLIP2,
    TINY_ST,
    TINY_VIT,
    build_tiny_models,
)

TEXTS = [
    "Baby stroller with rain cover, category: Strollers",
    "Soft blanket",
    "Running shoes for men and women with a very long title that the short text towers must "
    "truncate at their maximum length, category: Sports & Outdoors",
    "red car seat, category: Car Seats",
    "a",
    "Generate a unified representation for this product.",
    "blue cotton bottle 0123456789",
]
MIN_COSINE = 0.99999
# Two batch compositions: different batch and shard sizes put each item next to other items.
COMPOSITIONS = ((2, 3), (5, 4))


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tiny")
    names = [TINY_CLIP, TINY_SIGLIP, TINY_SIGLIP2, TINY_BLIP, TINY_VIT, TINY_RESNET, TINY_BERT, TINY_ST]
    build_tiny_models(out, seed=3, names=names)
    return out


@pytest.fixture(scope="module")
def image_files(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Random RGB images of different sizes and aspect ratios."""
    out = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    paths = []
    for i, (w, h) in enumerate([(40, 30), (64, 64), (23, 57), (100, 35), (32, 32)]):
        path = out / f"{i}.png"
        Image.fromarray(rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    return paths


def extract(
    kind: str, settings: dict[str, Any], texts: list[str | None], paths: list[str | None], tmp: Path
) -> list[np.ndarray]:
    """Our vectors, once per batch composition, through the sharded runner (images decoded by
    the runner from files, batches sorted by length and padded)."""
    outs = []
    for batch_size, shard_size in COMPOSITIONS:
        job = EncodeJob(
            texts=texts,
            image_paths=paths,
            cache_dir=tmp / f"{kind}-{batch_size}-{shard_size}",
            shard_size=shard_size,
            batch_size=batch_size,
        )
        outs.append(encode_resumable(job, lambda: default_encoder_factory(kind, settings)).vectors)
    return outs


def assert_item_by_item(ours: list[np.ndarray], reference: list[np.ndarray]) -> None:
    ref = np.stack([np.asarray(r, dtype=np.float64).reshape(-1) for r in reference])
    for matrix in ours:
        assert matrix.shape == ref.shape and matrix.dtype == np.float32
        cos = (matrix * ref).sum(1) / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(ref, axis=1))
        assert cos.min() >= MIN_COSINE, cos


def reference_calls(call: Callable[[Any], Any], inputs: list[Any]) -> list[np.ndarray]:
    """The library's call on ONE item at a time (no padding, no neighbours)."""
    import torch

    with torch.inference_mode():
        return [call(x).float().numpy() for x in inputs]


def _ids_and_mask(encoding: Any) -> dict[str, Any]:
    """BLIP's forward takes input_ids and attention_mask (its BERT tokenizer also returns
    token_type_ids)."""
    return {k: encoding[k] for k in ("input_ids", "attention_mask")}


def _images(paths: list[str]) -> list[Image.Image]:
    return [load_image(p) for p in paths]


@pytest.mark.parametrize(
    ("kind", "name"), [("clip", TINY_CLIP), ("siglip", TINY_SIGLIP), ("siglip", TINY_SIGLIP2)]
)
def test_clip_and_siglip_equal_get_features(
    kind: str, name: str, models: Path, image_files: list[str], tmp_path
) -> None:
    """CLIP, SigLIP (= fixed-resolution SigLIP 2) and SigLIP 2 NaFlex (patch masks, aspect ratio kept)."""
    from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

    path = str(models / name)
    settings = {"model": path, "normalize": False, "batch_size": 3}
    ours_text = extract(kind, settings, list(TEXTS), [None] * len(TEXTS), tmp_path)
    ours_image = extract(kind, settings, [None] * len(image_files), list(image_files), tmp_path / "img")
    model, tok = AutoModel.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)
    processor = AutoImageProcessor.from_pretrained(path, use_fast=False)
    # SigLIP's documented call pads to max_length; CLIP's takes the text as is.
    pad = {"padding": "max_length", "max_length": 16} if kind == "siglip" else {}
    text_ref = reference_calls(
        lambda t: model.get_text_features(**tok([t], truncation=True, return_tensors="pt", **pad)), TEXTS
    )
    image_ref = reference_calls(
        lambda im: model.get_image_features(**processor(images=[im], return_tensors="pt")),
        _images(image_files),
    )
    assert_item_by_item(ours_text, text_ref)
    assert_item_by_item(ours_image, image_ref)
    # normalize (the default) only rescales rows
    normed = extract(kind, {**settings, "normalize": True}, list(TEXTS), [None] * len(TEXTS), tmp_path / "n")
    np.testing.assert_allclose(np.linalg.norm(normed[0], axis=1), 1.0, rtol=1e-5)
    assert_item_by_item(normed, text_ref)


def test_blip_equals_its_itc_scores(models: Path, image_files: list[str], tmp_path) -> None:
    """BLIP's retrieval model has no get_*_features: its forward with use_itm_head=False returns
    the image-text cosine matrix of its ITC features; ours must reproduce every entry."""
    import torch
    from transformers import AutoImageProcessor, AutoTokenizer, BlipForImageTextRetrieval

    path = str(models / TINY_BLIP)
    settings = {"model": path, "batch_size": 2}
    ours_text = extract("blip", settings, list(TEXTS), [None] * len(TEXTS), tmp_path)
    ours_image = extract("blip", settings, [None] * len(image_files), list(image_files), tmp_path / "i")
    model = BlipForImageTextRetrieval.from_pretrained(path).eval()
    tok = AutoTokenizer.from_pretrained(path)
    pixels = AutoImageProcessor.from_pretrained(path, use_fast=False)(
        images=_images(image_files), return_tensors="pt"
    )["pixel_values"]
    with torch.inference_mode():
        reference = np.stack(
            [
                model(
                    **_ids_and_mask(tok([t], truncation=True, return_tensors="pt")),
                    pixel_values=pixels,
                    use_itm_head=False,
                )
                .itm_score[:, 0]
                .numpy()
                for t in TEXTS
            ],
            axis=1,
        )  # [n_images, n_texts]
    for image, text in zip(ours_image, ours_text):
        np.testing.assert_allclose(np.linalg.norm(text, axis=1), 1.0, rtol=1e-5)
        np.testing.assert_allclose(image @ text.T, reference, atol=1e-5)


@pytest.mark.parametrize(("name", "pooling"), [(TINY_VIT, "cls"), (TINY_VIT, "mean"), (TINY_VIT, "pooler"),
                                               (TINY_RESNET, "pooler"), (TINY_RESNET, "mean")])  # fmt: skip
def test_hf_image_equals_the_backbone_forward(
    name: str, pooling: str, models: Path, image_files: list[str], tmp_path
) -> None:
    from transformers import AutoImageProcessor, AutoModel

    path = str(models / name)
    ours = extract("hf_image", {"model": path, "pooling": pooling}, [None] * 5, list(image_files), tmp_path)
    model = AutoModel.from_pretrained(path).eval()
    processor = AutoImageProcessor.from_pretrained(path, use_fast=False)

    def call(image: Image.Image) -> Any:
        out = model(**processor(images=[image], return_tensors="pt"))
        hidden = out.last_hidden_state
        if pooling == "pooler":
            return out.pooler_output.flatten(1)
        if hidden.ndim == 4:
            return hidden.mean(dim=(2, 3))
        return hidden[:, 0] if pooling == "cls" else hidden.mean(dim=1)

    assert_item_by_item(ours, reference_calls(call, _images(image_files)))


@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_hf_text_equals_the_encoder_forward(pooling: str, models: Path, tmp_path) -> None:
    from transformers import AutoModel, AutoTokenizer

    path = str(models / TINY_BERT)
    ours = extract("hf_text", {"model": path, "pooling": pooling}, list(TEXTS), [None] * len(TEXTS), tmp_path)
    model, tok = AutoModel.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)

    def call(text: str) -> Any:
        hidden = model(**tok([text], return_tensors="pt")).last_hidden_state
        return hidden[:, 0] if pooling == "cls" else hidden.mean(dim=1)

    assert_item_by_item(ours, reference_calls(call, TEXTS))


def test_sentence_transformers_equals_encode(models: Path, tmp_path) -> None:
    """A Dense layer in the module list: only sentence-transformers itself gives these vectors."""
    import torch
    from sentence_transformers import SentenceTransformer

    path = str(models / TINY_ST)
    settings = {"model": path, "batch_size": 2}
    ours = extract("sentence_transformers", settings, list(TEXTS), [None] * len(TEXTS), tmp_path)
    model = SentenceTransformer(path, device="cpu")
    reference = [torch.from_numpy(model.encode([t])) for t in TEXTS]
    assert_item_by_item(ours, reference)
    assert ours[0].shape[1] == 16


def test_models_needing_remote_code_are_refused(tmp_path: Path, models: Path) -> None:
    custom = tmp_path / "custom"
    custom.mkdir()
    (custom / "config.json").write_text(json.dumps({"model_type": "x", "auto_map": {"AutoModel": "m.M"}}))
    with pytest.raises(ValueError, match="trust_remote_code"):
        refuse_remote_code(str(custom))
    with pytest.raises(ValueError, match="trust_remote_code"):
        default_encoder_factory("clip", {"model": str(custom)})
    refuse_remote_code(str(models / TINY_ST))  # the library's own modules only: accepted


def test_a_kind_refuses_another_family(models: Path) -> None:
    with pytest.raises(ValueError, match="kind clip"):
        default_encoder_factory("clip", {"model": str(models / TINY_SIGLIP)})
    with pytest.raises(ValueError, match="image-text model"):
        default_encoder_factory("hf_image", {"model": str(models / TINY_CLIP)})
