"""visual: VLM2Vec over the product image alone (prompt `<|image_pad|>`); missing images -> mean."""

from __future__ import annotations

from vlmrec.features.registry import BuildContext, BuildResult, StrategySpec
from vlmrec.features.strategies._common import vlm2vec_build

SPEC = StrategySpec(
    name="visual",
    modalities=("image",),
    encodes=True,
    description="VLM2Vec(image alone), 1536-d for VLM2Vec-V2.0",
    prompt_key="visual",
    encoders=("vlm2vec",),
)


def build(ctx: BuildContext) -> BuildResult:
    return vlm2vec_build(ctx, "image", image=True, text=False, missing="mean")
