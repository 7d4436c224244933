"""original: the paper's baseline, ResNet-50 ImageNet pooled (2048-d) image + BERT (768-d) text.

Images keep the ResNet image processor's own preprocessing (resize + crop + ImageNet
normalisation); missing images get the mean ResNet vector.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vlmrec.features.specs import StrategySpec

if TYPE_CHECKING:
    from vlmrec.features.registry import BuildContext, BuildResult

SPEC = StrategySpec(
    name="original",
    modalities=("image", "text"),
    encodes=True,
    description="image: ResNet-50 pooled 2048-d; text: BERT 768-d",
    encoders=("resnet", "text"),
    needs_text=True,
    needs_images=True,
)


def build(ctx: BuildContext) -> BuildResult:
    import numpy as np

    from vlmrec.features.registry import BuildResult
    from vlmrec.features.strategies._common import encode, image_paths, item_texts, mean_fill, shard_fields

    paths = image_paths(ctx)
    present = np.array([p is not None for p in paths])
    rows = np.flatnonzero(present)
    image = encode(ctx, "resnet", "image", [None] * len(rows), [paths[i] for i in rows])
    text = encode(ctx, "text", "text", item_texts(ctx.items), [None] * ctx.n_items)
    resnet, bert = ctx.params["resnet"], ctx.params["text"]
    fields = {
        "model": f"{resnet['model']} + {bert['model']}",
        "models": {"image": resnet["model"], "text": bert["model"]},
        "revision": None,
        "adapter": None,
        "dtype": image.encoder_info.get("dtype", "float32"),
        "text_pooling": text.encoder_info.get("pooling", bert.get("pooling")),
        "encoders": {"image": image.encoder_info, "text": text.encoder_info},
        "device": image.encoder_info.get("device") or image.device or text.device or "unknown",
        "missing_images": int((~present).sum()),
        "missing_policy": "mean",
    }
    fields.update(shard_fields({"image": image, "text": text}))
    return BuildResult(
        arrays={"image": mean_fill(image.vectors, present), "text": text.vectors}, manifest=fields
    )
