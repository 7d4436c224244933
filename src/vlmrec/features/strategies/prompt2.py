"""prompt2 (guided): VLM2Vec(guided prefix + image + "Product details:" + text + instruction).

Items without an image follow `features.missing_image_fused`, as in prompt1.
"""

from __future__ import annotations

from vlmrec.features.registry import BuildContext, BuildResult, StrategySpec
from vlmrec.features.strategies._common import vlm2vec_build

SPEC = StrategySpec(
    name="prompt2",
    modalities=("fused",),
    encodes=True,
    description="VLM2Vec(guided prefix <image> 'Product details:' text + instruction)",
    prompt_key="prompt2",
    encoders=("vlm2vec",),
    extra_params=("missing_image_fused",),
)


def build(ctx: BuildContext) -> BuildResult:
    return vlm2vec_build(ctx, "fused", image=True, text=True, missing=ctx.params["missing_image_fused"])
