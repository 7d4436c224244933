"""Helpers the strategy modules share: prompts, image paths, mean fill, one encoder pass."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vlmrec.features.manifest import feature_content_hash
from vlmrec.features.registry import BuildContext
from vlmrec.features.shards import EncodeJob, EncodeResult, encode_resumable

# VLM2Vec's Qwen2-VL image placeholder (src/model/processor.py, VLM_IMAGE_TOKENS[QWEN2_VL]); the
# encoder expands it to the image's grid of tokens. No <|vision_start|>/<|vision_end|>, no chat
# template: VLM2Vec feeds the raw prompt.
from vlmrec.features.specs import IMAGE_TOKEN, TEXT_FIELD
from vlmrec.features.specs import check_template as check_spec_template


def fill_prompt(template: str, text: str, with_image: bool = True) -> str:
    """The prompt for one item: `{text}` replaced by the item's text.

    `str.replace`, not `str.format`: product titles contain braces. Without an image the
    placeholder is removed and the whitespace around it collapsed, so the text-only prompt reads
    as the same sentence minus the image.
    """
    prompt = template.replace(TEXT_FIELD, text)
    if not with_image:
        prompt = re.sub(r"\s*" + re.escape(IMAGE_TOKEN) + r"\s*", " ", prompt).strip()
    return prompt


def check_template(template: str, *, image: bool, text: bool, key: str) -> None:
    """A prompt template must carry exactly one image placeholder / a {text} field when needed."""
    check_spec_template(f"features.prompts.{key}", template, image=image, text=text)


def image_paths(ctx: BuildContext) -> list[str | None]:
    """Item image paths (None when missing). Relative paths are tried as given (the workflow's
    working directory), then relative to the folder of items.parquet."""
    paths: list[str | None] = []
    base = ctx.items_path.parent
    for value in ctx.items["image_path"].tolist():
        if value is None or pd.isna(value) or value == "":  # None, NaN or pd.NA (string dtype)
            paths.append(None)
            continue
        path = Path(value)
        if not path.is_absolute() and not path.exists() and (base / path).exists():
            path = base / path
        if not path.exists():
            raise FileNotFoundError(f"image of item listed in {ctx.items_path} not found: {value}")
        paths.append(str(path))
    return paths


def item_texts(items: pd.DataFrame) -> list[str]:
    return ["" if t is None or pd.isna(t) else str(t) for t in items["text"]]


def mean_fill(present_vectors: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Full matrix: rows of `present` items from `present_vectors`, the others their mean (MMRec)."""
    present = np.asarray(present, dtype=bool)
    if present_vectors.shape[0] != int(present.sum()):
        raise RuntimeError("mean_fill: vectors do not match the present items")
    if not present.any():
        raise ValueError("no item has an image: cannot build image features (mean of nothing)")
    out = np.empty((present.shape[0], present_vectors.shape[1]), dtype=np.float32)
    out[present] = present_vectors
    out[~present] = present_vectors.mean(axis=0, dtype=np.float64).astype(np.float32)
    return out


def encode(
    ctx: BuildContext,
    kind: str,
    modality: str,
    texts: list[str | None],
    paths: list[str | None],
    image_size: int | None = None,
) -> EncodeResult:
    """One resumable encoder pass; the shard cache is keyed by items, params, modality and inputs."""
    runner = ctx.params.get("runner", {})
    settings = ctx.params[kind]
    key = feature_content_hash(ctx.items_digest, ctx.strategy, ctx.params, modality, texts, paths)
    job = EncodeJob(
        texts=texts,
        image_paths=paths,
        cache_dir=ctx.shards_root / f"{ctx.strategy}-{modality}-{key}",
        shard_size=int(runner.get("shard_size", 2048)),
        batch_size=int(settings.get("batch_size", 32)),
        num_workers=int(runner.get("num_workers", 0)),
        image_size=image_size,
        desc=f"{ctx.strategy}/{modality}",
    )
    return encode_resumable(job, lambda: ctx.make_encoder(kind))


def encoder_fields(settings: dict[str, Any], result: EncodeResult) -> dict[str, Any]:
    """Manifest fields describing a model: the configured id or path, revision, adapter, and the
    resolved dtype/device as the encoder reported them (`encoder`: its describe())."""
    info = result.encoder_info
    return {
        "model": settings.get("model"),
        "revision": settings.get("revision"),
        "adapter": settings.get("adapter"),
        "dtype": info.get("dtype", settings.get("dtype")),
        "device": info.get("device") or result.device or "unknown",
        "encoder": info,
    }


def shard_fields(results: dict[str, EncodeResult]) -> dict[str, Any]:
    return {
        "shards": {
            m: {"total": r.shards_total, "encoded": r.shards_encoded, "items_encoded": r.items_encoded}
            for m, r in results.items()
        }
    }


def vlm2vec_build(
    ctx: BuildContext,
    modality: str,
    *,
    image: bool,
    text: bool,
    missing: str,
    key: str = "vlm2vec",
    template: str | None = None,
) -> Any:
    """The four VLM2Vec strategies (and declared `joint` ones): fill the prompt per item, encode,
    handle missing images. `key`: the params entry with the encoder settings; `template`: the
    prompt (default params["prompt"]).

    missing: "mean" — items without an image are not encoded and get the mean of the encoded
    rows (MMRec's rule for image features); "text_only" — they are encoded with the prompt minus
    the image placeholder (used for fused prompts: the item keeps its own text information);
    "none" — text-only strategy, images are never read.
    """
    from vlmrec.features.registry import BuildResult

    template = ctx.params["prompt"] if template is None else template
    check_template(template, image=image, text=text, key=ctx.strategy)
    settings = ctx.params[key]
    texts = item_texts(ctx.items)
    paths = image_paths(ctx) if image else [None] * ctx.n_items
    present = np.array([p is not None for p in paths])
    n_missing = int((~present).sum()) if image else 0
    prompts = [fill_prompt(template, t, with_image=has) for t, has in zip(texts, present)]
    if not image or missing == "text_only":
        encode_rows = np.ones(ctx.n_items, dtype=bool)
    elif missing == "mean":
        encode_rows = present
    else:
        raise ValueError(f"features.missing_image_fused must be text_only or mean, not {missing!r}")
    rows = np.flatnonzero(encode_rows)
    result = encode(
        ctx,
        key,
        modality,
        [prompts[i] for i in rows],
        [paths[i] for i in rows],
        image_size=settings.get("image_size") if image else None,
    )
    matrix = result.vectors if encode_rows.all() else mean_fill(result.vectors, encode_rows)
    fields = encoder_fields(settings, result)
    fields.update(shard_fields({modality: result}))
    fields.update(
        {
            "prompt": template,
            "image_size": settings.get("image_size") if image else None,
            "missing_images": n_missing,
            "missing_policy": missing if image else None,
        }
    )
    return BuildResult(arrays={modality: matrix}, manifest=fields)
