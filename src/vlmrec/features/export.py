"""MMRec export: `<out>/<dataset>.inter`, `image_feat.npy`, `text_feat.npy`, so MMRec's own models
run on our split and features (`data/<dataset>/` in an MMRec checkout).

`.inter` is MMRec's tab-separated `userID itemID rating timestamp x_label` with x_label 0/1/2 =
train/valid/test. Two-modality sets (dual, original, ...) map image -> image_feat.npy and
text -> text_feat.npy. A single-modality set (visual, textual, prompt1, prompt2, dual_concat) is
written to BOTH files: MMRec's LATTICE needs both, and every MMRec model then runs unchanged (it
sees the same vectors in both slots). Delete MMRec's cached graphs (`mm_adj_*.pt`, `*_adj_*.pt`) when features
change: their names carry no hash.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from vlmrec.features.registry import load_feature_set
from vlmrec.utils.io import atomic_path, save_npy

SPLIT_LABELS = {"train": 0, "valid": 1, "test": 2}
INTER_COLUMNS = ["userID", "itemID", "rating", "timestamp", "x_label"]


def mmrec_inter(interactions: pd.DataFrame) -> pd.DataFrame:
    unknown = sorted(set(interactions["split"].unique()) - set(SPLIT_LABELS))
    if unknown:
        raise ValueError(f"interactions.parquet: unknown split values {unknown}")
    return pd.DataFrame(
        {
            "userID": interactions["user_id"].astype("int64"),
            "itemID": interactions["item_id"].astype("int64"),
            "rating": interactions["rating"].astype("float64"),
            "timestamp": interactions["timestamp"].astype("int64"),
            "x_label": interactions["split"].map(SPLIT_LABELS).astype("int64"),
        }
    )


def modality_files(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """MMRec file name -> matrix."""
    if len(arrays) == 1:
        (matrix,) = arrays.values()
        return {"image_feat.npy": matrix, "text_feat.npy": matrix}
    if set(arrays) == {"image", "text"}:
        return {"image_feat.npy": arrays["image"], "text_feat.npy": arrays["text"]}
    raise ValueError(f"cannot map modalities {sorted(arrays)} to MMRec's image/text files")


def export_mmrec(
    interactions_path: str | Path, feature_dir: str | Path, out_dir: str | Path, dataset: str
) -> None:
    interactions = pd.read_parquet(interactions_path)
    arrays = load_feature_set(feature_dir)
    n_items = next(iter(arrays.values())).shape[0]
    if len(interactions) and int(interactions["item_id"].max()) >= n_items:
        raise ValueError(f"{interactions_path}: item ids exceed the {n_items} rows of {feature_dir}")
    out_dir = Path(out_dir)
    for name, matrix in modality_files(arrays).items():
        save_npy(out_dir / name, matrix.astype(np.float32, copy=False))
    with atomic_path(out_dir / f"{dataset}.inter") as tmp:
        mmrec_inter(interactions).to_csv(tmp, sep="\t", index=False, columns=INTER_COLUMNS)
