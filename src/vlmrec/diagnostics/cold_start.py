"""The cold-start protocol (``split.cold_items``): can a model place items it never saw in training?

1. ``make_cold_split``: from the dataset's split, a seeded share of items is held out entirely
   (:func:`vlmrec.data.split.cold_item_split`): all their rows go to validation (half of the cold
   items) or test (the other half); warm items keep their rows' labels. Written next to the dataset as
   ``results/<ds>/cold/interactions.parquet`` (the data contract's columns + ``cold``: 0 warm,
   1 valid-cold, 2 test-cold) and ``cold/split.json`` (counts).
2. ``cold_cell`` (:mod:`vlmrec.diagnostics.cold_train`, the torch-bound half): a model that can
   score items without training interactions
   (``Recommender.scores_cold_items``) is trained on that split with the hyper-parameters its
   ordinary cell chose on validation, for every seed, with MMRec's protocol; validation (early
   stopping) and test rank **only the cold items** (every item with a training row is masked), the
   targets being the rows of the valid-cold and test-cold items.
3. ``cold_table``: ``results/cold_start.csv`` / ``.md``, ID-only models listed as not applicable.

The ordinary table is untouched: the cold split is a separate experiment on the same features.
This module imports no torch, so the split (data env) and the table (report env) run without it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vlmrec.data.split import SPLIT_NAMES, cold_item_split
from vlmrec.report.labels import feature_label, model_label
from vlmrec.utils.io import atomic_path, read_json, write_csv, write_json, write_parquet

log = logging.getLogger(__name__)

_LABEL = {name: code for code, name in enumerate(SPLIT_NAMES)}


def make_cold_split(
    interactions: str | Path, out_parquet: str | Path, out_json: str | Path, fraction: float, seed: int
) -> dict[str, Any]:
    """Write the cold-start split of a dataset's interactions and its counts."""
    frame = pd.read_parquet(interactions)
    labels = frame["split"].map(_LABEL).to_numpy(dtype=np.int8)
    items = frame["item_id"].to_numpy(dtype=np.int64)
    new_labels, flags = cold_item_split(items, labels, fraction, seed)
    out = frame.copy()
    out["split"] = pd.array(SPLIT_NAMES[new_labels], dtype="str")
    out["cold"] = flags[items]
    write_parquet(out_parquet, out)
    stats = {
        "fraction": fraction,
        "seed": seed,
        "items": int(len(np.unique(items))),
        "valid_cold_items": int((flags == 1).sum()),
        "test_cold_items": int((flags == 2).sum()),
        "rows_moved": int((new_labels != labels).sum()),
        "split": {name: int((new_labels == code).sum()) for name, code in _LABEL.items()},
    }
    write_json(out_json, stats)
    log.info("cold split: %s", stats)
    return stats


COLD_COLUMNS = [
    "dataset",
    "model",
    "feature",
    "applicable",
    "metric",
    "k",
    "value",
    "std",
    "n_seeds",
    "status",
]


def cold_table(
    metrics_paths: Sequence[str | Path],
    not_applicable: Sequence[tuple[str, str]],
    metrics: Sequence[str],
    ks: Sequence[int],
    out_csv: str | Path,
    out_md: str | Path,
) -> pd.DataFrame:
    """Tidy ``cold_start.csv`` (one row per cell x metric x k) and a Markdown table per dataset."""
    rows = []
    candidates: dict[str, int] = {}
    for path in metrics_paths:
        cell = read_json(path)
        candidates[cell["dataset"]] = sum(cell["n_cold_items"].values())
        for metric in metrics:
            for k in ks:
                key = f"{metric}@{k}"
                rows.append(
                    {
                        "dataset": cell["dataset"],
                        "model": cell["model"],
                        "feature": cell["feature"],
                        "applicable": True,
                        "metric": metric,
                        "k": k,
                        "value": cell["test"].get(key, float("nan")),
                        "std": cell["test_std"].get(key, float("nan")),
                        "n_seeds": len(cell["seeds"]),
                        "status": cell["status"],
                    }
                )
    for dataset, model in not_applicable:
        rows.append(
            {"dataset": dataset, "model": model, "feature": "id", "applicable": False, "metric": "", "k": 0}
            | {"value": float("nan"), "std": float("nan"), "n_seeds": 0, "status": "not_applicable"}
        )
    frame = pd.DataFrame(rows, columns=COLD_COLUMNS)
    write_csv(out_csv, frame)
    with atomic_path(out_md) as tmp:
        Path(tmp).write_text(cold_markdown(frame, metrics, ks, candidates), encoding="utf-8")
    return frame


def cold_markdown(
    frame: pd.DataFrame,
    metrics: Sequence[str],
    ks: Sequence[int],
    candidates: Mapping[str, int] | None = None,
) -> str:
    """One table per dataset: model x feature rows, mean ± std over seeds on the test-cold items.

    ``candidates`` (dataset -> number of cold items ranked) adds the random ranking's expected
    Recall@k = min(k, n) / n as the reference to read the table against.
    """
    columns = [f"{m}@{k}" for m in metrics for k in ks]
    lines = []
    for dataset, block in frame.groupby("dataset", sort=False):
        lines += [f"**{dataset}** (cold-start: test ranks only the held-out cold items)", ""]
        lines += [
            "| Model | Feature | " + " | ".join(columns) + " |",
            "| --- | --- |" + " ---: |" * len(columns),
        ]
        for (model, feature), cell in block.groupby(["model", "feature"], sort=False):
            if not cell["applicable"].iloc[0]:
                na = " | ".join(["n/a (ID only)"] * len(columns))
                lines.append(f"| {model_label(model)} | – | {na} |")
                continue
            values = []
            for column in columns:
                metric, _, k = column.partition("@")
                row = cell[(cell["metric"] == metric) & (cell["k"] == int(k))].iloc[0]
                values.append(f"{row['value']:.4f} ± {row['std']:.4f}")
            lines.append(f"| {model_label(model)} | {feature_label(feature)} | " + " | ".join(values) + " |")
        n = (candidates or {}).get(dataset)
        if n:
            chance = ", ".join(f"Recall@{k} ≈ {min(k, n) / n:.4f}" for k in ks)
            lines += ["", f"A random ranking of the {n} cold items scores {chance}."]
        lines.append("")
    lines.append(
        "Cold-start protocol (split.cold_items): a seeded share of items has no training row; valid/test "
        "rank those cold items only (warm items masked). Mean ± std over seeds; hyper-parameters are "
        "the ones each model's ordinary cell chose on validation. ID-only models cannot score an item "
        "they never saw in training."
    )
    return "\n".join(lines) + "\n"
