"""Interactions and item features as the trainer needs them, with MMRec's loading rules.

MMRec's rules (``utils/dataset.py``), reproduced here:
- ``n_users = max(user id) + 1`` and ``n_items = max(item id) + 1`` over the whole file;
- validation/test rows of users without a training row are dropped (``filter_out_cod_start_users``);
- the negative-sampling pool ``all_items`` is the set of items seen in training, while ranking
  uses all ``n_items`` items (items seen only in valid/test stay candidates).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from vlmrec.models.base import InteractionData

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")
# MMRec's .inter files label the split in x_label: 0 train, 1 valid, 2 test.
_X_LABEL = {0: "train", 1: "valid", 2: "test"}


@dataclass
class SplitData:
    """Train rows (file order, duplicates kept as MMRec does) and the valid/test rows."""

    n_users: int
    n_items: int
    train_users: np.ndarray
    train_items: np.ndarray
    valid_users: np.ndarray
    valid_items: np.ndarray
    test_users: np.ndarray
    test_items: np.ndarray

    @property
    def all_items(self) -> np.ndarray:
        """Sorted unique items seen in training: MMRec's negative-sampling pool."""
        return np.unique(self.train_items)

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if name not in SPLITS:
            raise ValueError(f"unknown split '{name}' (known: {SPLITS})")
        return getattr(self, f"{name}_users"), getattr(self, f"{name}_items")

    def interaction_data(self) -> InteractionData:
        """What a model may see: sizes and the unique training (user, item) pairs."""
        keys, counts = np.unique(
            self.train_users * np.int64(self.n_items) + self.train_items, return_counts=True
        )
        return InteractionData(
            n_users=self.n_users,
            n_items=self.n_items,
            train_users=keys // self.n_items,
            train_items=keys % self.n_items,
            train_counts=counts.astype(np.float64),
        )

    def describe(self) -> str:
        return (
            f"{self.n_users} users, {self.n_items} items, train/valid/test rows "
            f"{len(self.train_users)}/{len(self.valid_users)}/{len(self.test_users)}"
        )


def from_frame(frame: pd.DataFrame, source: str = "<frame>") -> SplitData:
    """Build SplitData from columns user_id, item_id, split (train/valid/test)."""
    missing = {"user_id", "item_id", "split"} - set(frame.columns)
    if missing:
        raise ValueError(f"{source}: missing column(s) {sorted(missing)}")
    if len(frame) == 0:
        raise ValueError(f"{source}: no interactions")
    users = frame["user_id"].to_numpy(dtype=np.int64)
    items = frame["item_id"].to_numpy(dtype=np.int64)
    labels = frame["split"].astype(str).to_numpy()
    if users.min() < 0 or items.min() < 0:
        raise ValueError(f"{source}: negative user_id or item_id")
    unknown = sorted(set(np.unique(labels)) - set(SPLITS))
    if unknown:
        raise ValueError(f"{source}: unknown split label(s) {unknown} (expected {SPLITS})")
    n_users, n_items = int(users.max()) + 1, int(items.max()) + 1
    is_train = labels == "train"
    if not is_train.any():
        raise ValueError(f"{source}: no training rows")
    has_train = np.zeros(n_users, dtype=bool)
    has_train[users[is_train]] = True
    parts = {}
    for name in SPLITS:
        keep = labels == name
        if name != "train":
            dropped = int((keep & ~has_train[users]).sum())
            if dropped:
                log.info("%s: dropped %d %s rows of users without training rows", source, dropped, name)
            keep &= has_train[users]
        parts[f"{name}_users"], parts[f"{name}_items"] = users[keep], items[keep]
    return SplitData(n_users=n_users, n_items=n_items, **parts)


def load_interactions(path: str | Path) -> SplitData:
    """Load ``interactions.parquet`` (data stage contract) or an MMRec ``.inter`` file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"interactions file not found: {path}")
    if path.suffix == ".inter":
        return from_frame(_read_inter(path), source=str(path))
    frame = pd.read_parquet(path, columns=["user_id", "item_id", "split"])
    return from_frame(frame, source=str(path))


def _read_inter(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, sep="\t", usecols=["userID", "itemID", "x_label"])
    bad = ~frame["x_label"].isin(list(_X_LABEL))
    if bad.any():
        line = int(np.flatnonzero(bad.to_numpy())[0]) + 2  # header is line 1
        raise ValueError(f"{path}:{line}: x_label must be 0, 1 or 2")
    return pd.DataFrame(
        {
            "user_id": frame["userID"],
            "item_id": frame["itemID"],
            "split": frame["x_label"].map(_X_LABEL),
        }
    )


def load_features(feature_dir: str | Path, n_items: int) -> dict[str, np.ndarray]:
    """Modality -> float32 matrix ``[n_items, d]`` from a feature set directory (manifest.json).

    Reads through the feature stage's ``load_feature_set`` and checks the training contract:
    row count = n_items (row i = item i) and finite values.
    """
    from vlmrec.features.registry import load_feature_set

    feature_dir = Path(feature_dir)
    features = load_feature_set(feature_dir)
    if not features:
        raise ValueError(f"{feature_dir}/manifest.json lists no modalities")
    for modality, matrix in features.items():
        if matrix.ndim != 2 or matrix.shape[0] != n_items:
            raise ValueError(
                f"{feature_dir}: modality '{modality}' has shape {matrix.shape}, expected [{n_items}, d] "
                "(row i = item i)"
            )
        if not np.isfinite(matrix).all():
            raise ValueError(f"{feature_dir}: modality '{modality}' has non-finite values")
    return {name: np.ascontiguousarray(m, dtype=np.float32) for name, m in features.items()}
