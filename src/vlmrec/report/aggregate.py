"""The aggregation step: cells -> significance.csv + table.csv/md/tex/html (full or partial)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from vlmrec.report.cells import load_cells
from vlmrec.report.significance import significance_table
from vlmrec.report.table import (
    TableOrder,
    render_html,
    render_latex,
    render_markdown,
    render_significance_html,
    sort_tidy,
    tidy_table,
    write_csv,
    write_text,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReportSettings:
    """The `report:` config section (plus the global seed for the bootstrap)."""

    metrics: Sequence[str] = ("recall", "ndcg", "precision")
    k: Sequence[int] = (20,)
    baseline_feature: str = "original"
    alpha: float = 0.05
    bootstrap_samples: int = 2000
    seed: int = 999

    @property
    def metric_keys(self) -> list[tuple[str, int]]:
        """Columns: every metric at the first k, then at the next k, ..."""
        return [(metric, int(k)) for k in self.k for metric in self.metrics]


@dataclass(frozen=True)
class AggregateOutputs:
    csv: Path
    md: Path
    tex: Path | None = None
    html: Path | None = None
    significance: Path | None = None
    significance_html: Path | None = None


def aggregate(
    metrics_paths: Sequence[str | Path],
    outputs: AggregateOutputs,
    settings: ReportSettings,
    order: TableOrder | None = None,
    missing: Sequence[tuple[str, str, str]] = (),
) -> pd.DataFrame:
    """Build every table output from the given cells; returns the tidy table."""
    order = order or TableOrder()
    cells = load_cells(list(metrics_paths))
    if not cells and not missing:
        raise ValueError("no finished cells to aggregate (no metrics.json given or found)")
    log.info("aggregating %d cells (%d missing)", len(cells), len(missing))
    significance = significance_table(
        cells,
        settings.metric_keys,
        settings.baseline_feature,
        settings.alpha,
        settings.bootstrap_samples,
        settings.seed,
    )
    tidy = sort_tidy(
        tidy_table(
            cells, settings.metric_keys, settings.baseline_feature, significance, settings.alpha, missing
        ),
        order,
    )
    args = (settings.metric_keys, settings.baseline_feature, settings.alpha)
    write_csv(outputs.csv, tidy)
    write_text(outputs.md, render_markdown(tidy, *args))
    if outputs.tex is not None:
        write_text(outputs.tex, render_latex(tidy, *args))
    if outputs.html is not None:
        write_text(outputs.html, render_html(tidy, *args))
    if outputs.significance is not None:
        write_csv(outputs.significance, significance)
    if outputs.significance_html is not None:
        write_text(outputs.significance_html, render_significance_html(significance, settings.alpha))
    return tidy
