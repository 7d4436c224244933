"""dual: image = the `visual` vectors, text = the `textual` vectors; no encoding.

The recommender learns the fusion (MMRec's v_feat / t_feat), one reading of the paper's "Dual".
"""

from __future__ import annotations

from vlmrec.features.registry import BuildContext, BuildResult, StrategySpec
from vlmrec.features.strategies._reuse import load_reused, reuse_fields

SPEC = StrategySpec(
    name="dual",
    modalities=("image", "text"),
    encodes=False,
    description="image: visual, text: textual (two modalities, no new encoding)",
    reuses=("visual", "textual"),
)


def build(ctx: BuildContext) -> BuildResult:
    visual, visual_manifest = load_reused(ctx, "visual")
    textual, textual_manifest = load_reused(ctx, "textual")
    return BuildResult(
        arrays={"image": visual["image"], "text": textual["text"]},
        manifest=reuse_fields({"visual": visual_manifest, "textual": textual_manifest}),
    )
