"""provided: the image_feat.npy / text_feat.npy that came with an mmrec-source dataset, as is.

The data stage copies them into results/{dataset}/raw/; MMRec's released data runs unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vlmrec.features.specs import StrategySpec

if TYPE_CHECKING:
    from vlmrec.features.registry import BuildContext, BuildResult

SPEC = StrategySpec(
    name="provided",
    modalities=("image", "text"),
    encodes=False,
    description="MMRec's released image_feat.npy / text_feat.npy (mmrec-source datasets)",
    raw_inputs=("image_feat.npy", "text_feat.npy"),
    dataset_sources=("mmrec",),
)


def build(ctx: BuildContext) -> BuildResult:
    import numpy as np

    from vlmrec.features.registry import BuildResult

    if ctx.raw_dir is None:
        raise ValueError("strategy 'provided' needs the dataset's raw/ folder")
    arrays = {}
    for modality, name in (("image", "image_feat.npy"), ("text", "text_feat.npy")):
        path = ctx.raw_dir / name
        if not path.exists():
            raise FileNotFoundError(f"strategy 'provided' needs {path} (copied by the data stage)")
        arrays[modality] = np.load(path)
    return BuildResult(
        arrays=arrays,
        manifest={"model": "provided", "source_files": [str(ctx.raw_dir / n) for n in SPEC.raw_inputs]},
    )
