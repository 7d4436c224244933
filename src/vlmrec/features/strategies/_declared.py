"""Builder of the config-declared strategies (`features.declared`, see specs.py).

One encoder (`params["encoder"]`, with its `kind`) over the item images and/or texts:
- inputs image: image vectors; items without an image get the mean (MMRec's rule);
- inputs text: vectors of `template` with `{text}` replaced by the item's text;
- inputs both: both passes; fusion none keeps two modalities (image + text, the recommender
  fuses), concat writes one `fused` matrix [image | text], mean writes
  (l2n(image) + l2n(text)) / 2 — early fusion, meaningful only when both live in one space
  (CLIP, SigLIP, BLIP); joint (VLM2Vec) encodes image and text in one prompt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from vlmrec.features.registry import BuildContext, BuildResult


def l2_normalise(matrix: np.ndarray) -> np.ndarray:
    import numpy as np

    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


def build(ctx: BuildContext) -> BuildResult:
    import numpy as np

    from vlmrec.features.registry import BuildResult
    from vlmrec.features.specs import IMAGE_TOKEN
    from vlmrec.features.strategies._common import (
        encode,
        encoder_fields,
        fill_prompt,
        image_paths,
        item_texts,
        mean_fill,
        shard_fields,
        vlm2vec_build,
    )

    declared, settings = ctx.params["declared"], ctx.params["encoder"]
    inputs, fusion, template = declared["inputs"], declared["fusion"], declared["template"]
    kind = settings["kind"]
    if fusion == "joint":
        result = vlm2vec_build(
            ctx,
            "fused",
            image=True,
            text=True,
            missing=ctx.params["missing_image_fused"],
            key="encoder",
            template=template,
        )
        result.manifest.update(_fields(declared, kind))
        return result
    arrays: dict[str, np.ndarray] = {}
    results = {}
    n_missing = 0
    if inputs in ("image", "both"):
        paths = image_paths(ctx)
        present = np.array([p is not None for p in paths])
        n_missing = int((~present).sum())
        rows = np.flatnonzero(present)
        # VLM2Vec reads an image through its placeholder prompt; dual encoders take the image alone.
        prompt = IMAGE_TOKEN if kind == "vlm2vec" else None
        image_size = settings.get("image_size")
        image = encode(ctx, "encoder", "image", [prompt] * len(rows), [paths[i] for i in rows], image_size)
        arrays["image"], results["image"] = mean_fill(image.vectors, present), image
    if inputs in ("text", "both"):
        prompts = [fill_prompt(template, t) for t in item_texts(ctx.items)]
        text = encode(ctx, "encoder", "text", prompts, [None] * ctx.n_items)
        arrays["text"], results["text"] = text.vectors, text
    arrays = fuse(arrays, fusion, ctx.strategy)
    fields = encoder_fields(settings, next(iter(results.values())))
    fields.update(shard_fields(results))
    fields.update(_fields(declared, kind))
    fields.update(
        {
            "prompt": template if inputs != "image" else None,
            "image_size": settings.get("image_size") if inputs != "text" else None,
            "missing_images": n_missing,
            "missing_policy": "mean" if inputs != "text" else None,
        }
    )
    return BuildResult(arrays=arrays, manifest=fields)


def fuse(arrays: dict[str, np.ndarray], fusion: str, strategy: str) -> dict[str, np.ndarray]:
    """none: as is; concat: [image | text]; mean: (l2n(image) + l2n(text)) / 2."""
    import numpy as np

    if fusion == "none":
        return arrays
    image, text = arrays["image"], arrays["text"]
    if fusion == "concat":
        return {"fused": np.concatenate([image, text], axis=1)}
    if image.shape[1] != text.shape[1]:
        raise ValueError(
            f"strategy {strategy!r}: fusion mean needs image and text vectors of one width "
            f"(got {image.shape[1]} and {text.shape[1]}); use fusion concat or none"
        )
    fused = (l2_normalise(image.astype(np.float64)) + l2_normalise(text.astype(np.float64))) / 2.0
    return {"fused": fused.astype(np.float32)}


def _fields(declared: dict, kind: str) -> dict:
    return {"kind": kind, "inputs": declared["inputs"], "fusion": declared["fusion"]}
