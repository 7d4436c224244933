"""The tidy ``results/diagnostics.csv`` from the per-feature-set diagnostics JSON files.

Apart from :mod:`vlmrec.diagnostics.run` (which computes the measures with torch) so the report
env's `diagnostics_table` rule runs without torch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from vlmrec.utils.io import read_json, write_csv

CROSS_MODAL = "image~text"


def tidy_rows(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rows (dataset, strategy, modality, measure, value) of one diagnostics JSON."""
    base = {"dataset": result.get("dataset"), "strategy": result.get("strategy")}
    rows = [
        {**base, "modality": modality, "measure": measure, "value": float(value)}
        for modality, values in result["modalities"].items()
        for measure, value in values.items()
    ]
    rows += [
        {**base, "modality": CROSS_MODAL, "measure": measure, "value": float(value)}
        for measure, value in (result.get("cross_modal") or {}).items()
    ]
    return rows


DIAGNOSTIC_COLUMNS = ["dataset", "strategy", "modality", "measure", "value"]


def collect(paths: Sequence[str | Path], out_csv: str | Path) -> pd.DataFrame:
    """The tidy ``results/diagnostics.csv`` from every diagnostics JSON."""
    rows = [row for path in paths for row in tidy_rows(read_json(path))]
    frame = pd.DataFrame(rows, columns=DIAGNOSTIC_COLUMNS)
    write_csv(out_csv, frame)
    return frame
