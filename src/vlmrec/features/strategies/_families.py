"""The two families of built-in strategies, each declared in one call: (SPEC, build).

Kept import-light (specs only) because plan time imports every strategy module for its SPEC;
the builders import their numpy/encoder helpers when they run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from vlmrec.features.specs import StrategySpec

if TYPE_CHECKING:
    import numpy as np

    from vlmrec.features.registry import BuildContext, BuildResult

Build = Callable[["BuildContext"], "BuildResult"]
Combine = Callable[["np.ndarray", "np.ndarray"], "dict[str, np.ndarray]"]


def vlm2vec_strategy(name: str, description: str, *, image: bool, text: bool) -> tuple[StrategySpec, Build]:
    """A VLM2Vec strategy over the prompt `features.prompts.<name>`.

    image + text: one `fused` modality; items without an image follow
    `features.missing_image_fused`. image alone: missing images get the mean vector (MMRec).
    text alone: images are never read.
    """
    fused = image and text
    modality = "fused" if fused else ("image" if image else "text")
    spec = StrategySpec(
        name=name,
        modalities=(modality,),
        encodes=True,
        description=description,
        prompt_key=name,
        encoders=("vlm2vec",),
        extra_params=("missing_image_fused",) if fused else (),
        needs_text=text,
        needs_images=image,
    )

    def build(ctx: BuildContext) -> BuildResult:
        from vlmrec.features.strategies._common import vlm2vec_build

        missing = ctx.params["missing_image_fused"] if fused else ("mean" if image else "none")
        return vlm2vec_build(ctx, modality, image=image, text=text, missing=missing)

    return spec, build


def reuse_strategy(
    name: str, modalities: tuple[str, ...], description: str, combine: Combine
) -> tuple[StrategySpec, Build]:
    """A strategy built, without encoding, from the `visual` and `textual` feature sets:
    `combine(visual image vectors, textual text vectors)` gives its arrays."""
    spec = StrategySpec(
        name=name,
        modalities=modalities,
        encodes=False,
        description=description,
        reuses=("visual", "textual"),
        needs_text=True,
        needs_images=True,
    )

    def build(ctx: BuildContext) -> BuildResult:
        from vlmrec.features.registry import BuildResult
        from vlmrec.features.strategies._reuse import load_reused, reuse_fields

        visual, visual_manifest = load_reused(ctx, "visual")
        textual, textual_manifest = load_reused(ctx, "textual")
        return BuildResult(
            arrays=combine(visual["image"], textual["text"]),
            manifest=reuse_fields({"visual": visual_manifest, "textual": textual_manifest}),
        )

    return spec, build
