"""textual: VLM2Vec over the item text "[TITLE], category: [CATEGORY]"; images are not read."""

from __future__ import annotations

from vlmrec.features.registry import BuildContext, BuildResult, StrategySpec
from vlmrec.features.strategies._common import vlm2vec_build

SPEC = StrategySpec(
    name="textual",
    modalities=("text",),
    encodes=True,
    description="VLM2Vec(item text), 1536-d for VLM2Vec-V2.0",
    prompt_key="textual",
    encoders=("vlm2vec",),
)


def build(ctx: BuildContext) -> BuildResult:
    return vlm2vec_build(ctx, "text", image=False, text=True, missing="none")
