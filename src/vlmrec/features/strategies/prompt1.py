"""prompt1 (simple): VLM2Vec(image + text + instruction) -> one fused vector per item.

Items without an image follow `features.missing_image_fused` (default text_only: the prompt
without the placeholder is encoded; mean: they get the mean fused vector). See docs/features.md.
"""

from __future__ import annotations

from vlmrec.features.registry import BuildContext, BuildResult, StrategySpec
from vlmrec.features.strategies._common import vlm2vec_build

SPEC = StrategySpec(
    name="prompt1",
    modalities=("fused",),
    encodes=True,
    description="VLM2Vec(<image> text + 'Generate a unified representation for this product.')",
    prompt_key="prompt1",
    encoders=("vlm2vec",),
    extra_params=("missing_image_fused",),
)


def build(ctx: BuildContext) -> BuildResult:
    return vlm2vec_build(ctx, "fused", image=True, text=True, missing=ctx.params["missing_image_fused"])
