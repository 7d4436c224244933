"""Reading the training stage's cell directories (`results/{dataset}/runs/{model}/{feature}/`).

Only the keys listed in docs/ARCHITECTURE.md are relied on; anything else is optional.
"""

from __future__ import annotations

import glob
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from vlmrec.layout import CELL_FILES, Layout

METRICS_FILE = CELL_FILES["metrics"]
PER_USER_FILE = CELL_FILES["per_user"]
CURVE_FILE = CELL_FILES["curve"]
_REQUIRED_KEYS = ("dataset", "model", "feature", "test")


@dataclass(frozen=True)
class Cell:
    """One (dataset, model, feature) cell: its metrics.json and where its other files live."""

    dataset: str
    model: str
    feature: str
    directory: Path
    status: str
    test: dict[str, float]
    test_std: dict[str, float]
    n_seeds: int
    best_params: dict[str, Any]
    best_epoch: float | None
    feature_dims: dict[str, int] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.dataset, self.model, self.feature)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def per_user_path(self) -> Path:
        return self.directory / PER_USER_FILE

    @property
    def curve_path(self) -> Path:
        return self.directory / CURVE_FILE

    @property
    def total_feature_dim(self) -> int | None:
        return sum(self.feature_dims.values()) if self.feature_dims else None

    def value(self, key: str) -> float:
        """Mean test value over seeds (NaN when the cell has none, e.g. a failed cell)."""
        return float(self.test.get(key, math.nan))

    def std(self, key: str) -> float:
        return float(self.test_std.get(key, 0.0 if self.n_seeds <= 1 else math.nan))


def load_cell(metrics_path: str | Path) -> Cell:
    """Parse one metrics.json; errors name the file and the missing key."""
    path = Path(metrics_path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: metrics file of a cell not found") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    missing = [key for key in _REQUIRED_KEYS if key not in data]
    if missing:
        raise ValueError(f"{path}: metrics.json lacks key(s) {missing} (see docs/ARCHITECTURE.md)")
    seeds = data.get("seeds") or [s.get("seed") for s in data.get("per_seed", [])]
    best_epoch = data.get("best_epoch")
    return Cell(
        dataset=str(data["dataset"]),
        model=str(data["model"]),
        feature=str(data["feature"]),
        directory=path.parent,
        status=str(data.get("status", "ok")),
        test={k: float(v) for k, v in (data.get("test") or {}).items() if v is not None},
        test_std={k: float(v) for k, v in (data.get("test_std") or {}).items() if v is not None},
        n_seeds=max(len(seeds), 1) if data.get("test") else 0,
        best_params=dict(data.get("best_params") or {}),
        best_epoch=None if best_epoch is None else float(best_epoch),
        feature_dims={k: int(v) for k, v in (data.get("feature_dims") or {}).items()},
        raw=data,
    )


def load_cells(metrics_paths: list[str | Path]) -> list[Cell]:
    """Load every cell; two files claiming the same (dataset, model, feature) is an error."""
    cells: dict[tuple[str, str, str], Cell] = {}
    for path in metrics_paths:
        cell = load_cell(path)
        if cell.key in cells:
            raise ValueError(
                f"{path}: cell {cell.key} already loaded from {cells[cell.key].directory / METRICS_FILE}"
            )
        cells[cell.key] = cell
    return list(cells.values())


def discover_metrics(results_dir: str | Path) -> list[Path]:
    """metrics.json of every finished cell under `results_dir` (for the partial table)."""
    pattern = Layout(glob.escape(str(results_dir))).cell_file("*", "*", "*", "metrics")
    return sorted(Path(path) for path in glob.glob(pattern))


def load_per_user(cell: Cell, metric_key: str) -> pd.Series:
    """Per-user test values of one metric, averaged over the cell's seeds, indexed by user_id."""
    path = cell.per_user_path
    if not path.exists():
        raise FileNotFoundError(f"{path}: per-user test metrics of cell {cell.key} not found")
    frame = pd.read_parquet(path)
    for column in ("user_id", metric_key):
        if column not in frame.columns:
            raise ValueError(f"{path}: column '{column}' missing (has {list(frame.columns)})")
    # Several seeds: average each user's value over seeds first, so a user counts once per pair.
    return frame.groupby("user_id")[metric_key].mean().astype(float)
