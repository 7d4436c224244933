"""dual_concat: one `fused` matrix = concat(visual, textual) (3072-d for VLM2Vec-V2.0); no encoding.

The other reading of the paper's "Dual: concat(Visual, Textual), 3072-d".
"""

from __future__ import annotations

import numpy as np

from vlmrec.features.registry import BuildContext, BuildResult, StrategySpec
from vlmrec.features.strategies._reuse import load_reused, reuse_fields

SPEC = StrategySpec(
    name="dual_concat",
    modalities=("fused",),
    encodes=False,
    description="fused: concat(visual, textual), a single modality",
    reuses=("visual", "textual"),
)


def build(ctx: BuildContext) -> BuildResult:
    visual, visual_manifest = load_reused(ctx, "visual")
    textual, textual_manifest = load_reused(ctx, "textual")
    fused = np.concatenate([visual["image"], textual["text"]], axis=1)
    return BuildResult(
        arrays={"fused": fused},
        manifest=reuse_fields({"visual": visual_manifest, "textual": textual_manifest}),
    )
