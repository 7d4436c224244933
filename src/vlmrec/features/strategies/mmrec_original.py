"""mmrec_original: MMRec's own features, rebuilt.

image: the 4096-d CNN vectors of the 2014 `image_features_<Category>.b` (downloaded by the data
stage to raw/image_features.b), looked up by asin; items absent from the file get the mean.
text: all-MiniLM-L6-v2 (384-d) over MMRec's template
`title + ' ' + brand + ' ' + category_path + ' ' + description`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vlmrec.features.specs import StrategySpec

if TYPE_CHECKING:
    import pandas as pd

    from vlmrec.features.registry import BuildContext, BuildResult

SPEC = StrategySpec(
    name="mmrec_original",
    modalities=("image", "text"),
    encodes=True,
    description="image: Amazon 2014 CNN 4096-d (.b file); text: all-MiniLM-L6-v2 over MMRec's template",
    raw_inputs=("image_features.b",),
    encoders=("mmrec_text",),
    required_dataset_keys=("image_features_url",),
    needs_text=True,
)

TEXT_COLUMNS = ("title", "brand", "category_path", "description")


def mmrec_text(items: pd.DataFrame) -> list[str]:
    """MMRec's sentence per item (preprocessing notebook): fields joined by single spaces."""
    missing = [c for c in TEXT_COLUMNS if c not in items.columns]
    if missing:
        raise ValueError(f"items.parquet lacks the columns {missing} that MMRec's text template needs")
    columns = [items[c].fillna("").astype(str).tolist() for c in TEXT_COLUMNS]
    return [" ".join(parts) for parts in zip(*columns)]


def build(ctx: BuildContext) -> BuildResult:
    from vlmrec.features.amazon_cnn import read_image_features
    from vlmrec.features.registry import BuildResult
    from vlmrec.features.strategies._common import encode, mean_fill, shard_fields

    if ctx.raw_dir is None:
        raise ValueError("strategy 'mmrec_original' needs the dataset's raw/ folder")
    cnn_path = ctx.raw_dir / "image_features.b"
    vectors, found = read_image_features(cnn_path, ctx.items["asin"].astype(str).tolist())
    text = encode(ctx, "mmrec_text", "text", mmrec_text(ctx.items), [None] * ctx.n_items)
    settings = ctx.params["mmrec_text"]
    fields = {
        "model": f"amazon2014-cnn + {settings['model']}",
        "models": {"image": str(cnn_path), "text": settings["model"]},
        "revision": None,
        "adapter": None,
        "dtype": text.encoder_info.get("dtype", "float32"),
        "device": text.encoder_info.get("device") or text.device or "unknown",
        "encoder": text.encoder_info,
        "missing_images": int((~found).sum()),
        "missing_policy": "mean",
        "text_template": "title + ' ' + brand + ' ' + category_path + ' ' + description",
    }
    fields.update(shard_fields({"text": text}))
    return BuildResult(
        arrays={"image": mean_fill(vectors[found], found), "text": text.vectors}, manifest=fields
    )
