"""The report's diagnostics section: tables and the two figures of issue 12.

- ``write_diagnostics_tables``: ``results/diagnostics.md`` / ``.html``, one table per dataset
  (rows = feature set x modality, columns = the measures of :mod:`vlmrec.diagnostics.measures`);
- ``write_slices_csv``: ``results/slices.csv`` from the cells' ``metrics.json['slices']``;
- ``plot_agreement``: feature-behaviour agreement (overlap@k) against the test metric, one panel per
  model, with the Spearman rank correlation over the block's feature sets printed on it;
- ``plot_popularity``: the test metric per item-popularity bucket (head / torso / tail) per feature.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

from vlmrec.diagnostics.table import CROSS_MODAL
from vlmrec.evaluation.slices import slice_rows
from vlmrec.report.labels import feature_label, metric_label, model_label
from vlmrec.report.plots import feature_colors, save_figure
from vlmrec.utils.io import atomic_path, read_json, write_csv

TABLE_MEASURES = (
    "dim",
    "overlap@10",
    "spearman",
    "anisotropy",
    "effective_rank",
    "duplicate_share",
    "hubness",
)
MEASURE_LABELS = {
    "dim": "dim",
    "spearman": "Spearman",
    "anisotropy": "anisotropy",
    "effective_rank": "eff. rank",
    "duplicate_share": "dup. share",
    "hubness": "hubness",
}
SLICE_COLUMNS = ["dataset", "model", "feature", "slicing", "bucket", "metric", "k", "value"]
SLICE_COLUMNS += ["n_items", "n_users", "n_targets"]


# --------------------------------------------------------------------------------------------- tables
def _wide(frame: pd.DataFrame) -> pd.DataFrame:
    rows = frame[frame["modality"] != CROSS_MODAL]
    wide = rows.pivot_table(index=["strategy", "modality"], columns="measure", values="value", sort=False)
    strategies = list(dict.fromkeys(rows["strategy"]))
    wide = wide.loc[sorted(wide.index, key=lambda r: (strategies.index(r[0]), r[1] == "joint", r[1]))]
    columns = [c for c in wide.columns if c in TABLE_MEASURES or c.startswith("overlap@")]
    order = sorted(columns, key=lambda c: TABLE_MEASURES.index(c) if c in TABLE_MEASURES else 1)
    return wide[order]


def _fmt(measure: str, value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{int(value)}" if measure == "dim" else f"{value:.3f}"


def write_diagnostics_tables(frame: pd.DataFrame, out_md: str | Path, out_html: str | Path) -> None:
    """One table per dataset, Markdown and HTML, plus the cross-modal lines."""
    md, body = [], []
    for dataset, block in frame.groupby("dataset", sort=False):
        wide = _wide(block)
        headers = ["feature", "modality", *(MEASURE_LABELS.get(c, c) for c in wide.columns)]
        md += [f"**{dataset}**", "", "| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
        body += [f"<h3>{html.escape(str(dataset))}</h3>", "<table>", _html_row(headers, "th")]
        for (strategy, modality), values in wide.iterrows():
            cells = [feature_label(strategy), modality, *(_fmt(c, values[c]) for c in wide.columns)]
            md.append("| " + " | ".join(cells) + " |")
            body.append(_html_row(cells, "td"))
        body.append("</table>")
        cross = _cross_modal_lines(block)
        md += ["", *cross, ""]
        body += [f"<p>{html.escape(line)}</p>" for line in cross]
    md.append(DIAGNOSTICS_LEGEND)
    body.append(f"<p>{html.escape(DIAGNOSTICS_LEGEND)}</p>")
    with atomic_path(out_md) as tmp:
        Path(tmp).write_text("\n".join(md) + "\n", encoding="utf-8")
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Feature diagnostics</title><style>"
        "body{font-family:sans-serif} table{border-collapse:collapse} td,th{padding:2px 8px;"
        "border-bottom:1px solid #ccc;text-align:right} "
        "td:nth-child(-n+2),th:nth-child(-n+2){text-align:left}"
        "</style></head><body><h2>Feature diagnostics</h2>" + "\n".join(body) + "</body></html>\n"
    )
    with atomic_path(out_html) as tmp:
        Path(tmp).write_text(page, encoding="utf-8")


def _html_row(cells: Sequence[str], tag: str) -> str:
    return "<tr>" + "".join(f"<{tag}>{html.escape(str(c))}</{tag}>" for c in cells) + "</tr>"


def _cross_modal_lines(block: pd.DataFrame) -> list[str]:
    cross = block[block["modality"] == CROSS_MODAL]
    lines = []
    for strategy, rows in cross.groupby("strategy", sort=False):
        v = dict(zip(rows["measure"], rows["value"]))
        lines.append(
            f"Cross-modal ({feature_label(strategy)}): an item's image·text cosine "
            f"{v['cross_modal_paired']:.3f} vs {v['cross_modal_random']:.3f} for different items "
            f"(gap {v['cross_modal_gap']:+.3f})."
        )
    return lines


DIAGNOSTICS_LEGEND = (
    "overlap@k: share of an item's k feature-nearest neighbours that are also among its k nearest by "
    "co-interaction in training (1 = features reproduce behaviour). Spearman: rank correlation of "
    "feature cosine and co-interaction cosine on sampled item pairs. anisotropy: mean cosine between "
    "different items (0 = directions spread out, 1 = all alike). eff. rank: participation ratio of the "
    "singular values (how many directions carry variance). dup. share: items whose nearest other item "
    "has cosine > 0.99. hubness: skewness of how often items appear in others' k-NN lists (high = a "
    "few hubs are everyone's neighbours). joint: image and text cosines averaged."
)


def write_slices_csv(metrics_paths: Sequence[str | Path], out_csv: str | Path) -> pd.DataFrame:
    rows = [row for path in metrics_paths for row in slice_rows(read_json(path))]
    frame = pd.DataFrame(rows, columns=SLICE_COLUMNS)
    write_csv(out_csv, frame)
    return frame


# --------------------------------------------------------------------------------------------- plots
def agreement_modality(modalities: Mapping[str, Any]) -> str:
    """The row that stands for a feature set: ``joint`` for image + text, else its one modality."""
    return "joint" if "joint" in modalities else sorted(modalities)[0]


def _ordered(values: Sequence[str], order: Sequence[str]) -> list[str]:
    return [v for v in order if v in values] + sorted(v for v in values if v not in order)


@dataclass(frozen=True)
class FigureSpec:
    """What both figures of a dataset are drawn for: the metric and the panel / colour order."""

    dataset: str
    metric: str
    k: int
    models: Sequence[str]
    strategies: Sequence[str]


def _panels(
    cells: Mapping[tuple[str, str], Mapping[str, Any]], spec: FigureSpec, panel_width: float
) -> tuple[Any, np.ndarray, list[str], list[str], dict[str, Any]]:
    """One row of panels, one per model of `cells` (in `spec.models` order), and the feature sets of
    `cells` (in `spec.strategies` order) with their colours: (figure, axes, models, features, colours)."""
    panel_models = _ordered({m for m, _ in cells}, spec.models)
    features = _ordered({f for _, f in cells}, spec.strategies)
    n = max(1, len(panel_models))
    fig, axes = plt.subplots(1, n, figsize=(panel_width * n, 3.8))
    return fig, np.atleast_1d(axes), panel_models, features, feature_colors(features)


def plot_agreement(
    diagnostics: Mapping[str, Mapping[str, Any]],
    cells: Mapping[tuple[str, str], Mapping[str, Any]],
    spec: FigureSpec,
) -> Any:
    """Scatter of overlap@k (x) against the test metric (y), one panel per model."""
    metric, k, key = spec.metric, spec.k, f"{spec.metric}@{spec.k}"
    fig, axes, panel_models, features, colors = _panels(cells, spec, panel_width=4.6)
    for ax, model in zip(axes, panel_models):
        xs, ys = [], []
        for feature in features:
            cell, diag = cells.get((model, feature)), diagnostics.get(feature)
            if cell is None or diag is None or key not in cell.get("test", {}):
                continue
            row = diag["modalities"][agreement_modality(diag["modalities"])]
            overlap_key = next(name for name in row if name.startswith("overlap@"))
            x, y = row[overlap_key], cell["test"][key]
            ax.errorbar(x, y, yerr=cell.get("test_std", {}).get(key, 0.0), fmt="o", color=colors[feature])
            ax.annotate(feature_label(feature), (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
            xs.append(x)
            ys.append(y)
        rho = (
            stats.spearmanr(xs, ys).statistic if len(xs) >= 3 and np.ptp(xs) > 0 and np.ptp(ys) > 0 else None
        )
        text = (
            f"Spearman ρ = {rho:+.2f} over {len(xs)} feature sets"
            if rho is not None
            else "ρ: < 3 feature sets"
        )
        ax.text(0.02, 0.98, text, transform=ax.transAxes, va="top", fontsize=9,
                bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"})  # fmt: skip
        ax.set_title(model_label(model))
        ax.set_xlabel(f"feature–behaviour overlap@{diagnostics_k(diagnostics)}")
        ax.set_ylabel(f"test {metric_label(metric, k)}")
        ax.margins(x=0.2, y=0.2)
        ax.grid(alpha=0.3)
    fig.suptitle(f"{spec.dataset}: does agreement with behaviour predict the winning feature set?")
    fig.tight_layout()
    return fig


def diagnostics_k(diagnostics: Mapping[str, Mapping[str, Any]]) -> int:
    return int(next(iter(diagnostics.values())).get("k", 10)) if diagnostics else 10


def plot_popularity(cells: Mapping[tuple[str, str], Mapping[str, Any]], spec: FigureSpec) -> Any:
    """Grouped bars: the test metric per item-popularity bucket (x) per feature (colour), per model."""
    metric, k, key = spec.metric, spec.k, f"{spec.metric}@{spec.k}"
    fig, axes, panel_models, features, colors = _panels(cells, spec, panel_width=5.2)
    for ax, model in zip(axes, panel_models):
        buckets: list[str] = []
        width = 0.8 / max(1, len(features))
        for index, feature in enumerate(features):
            section = (cells.get((model, feature)) or {}).get("slices", {}).get("item_popularity")
            if not section:
                continue
            buckets = list(section.get("names") or section["buckets"])  # JSON keys are sorted: use names
            values = [section["buckets"][b].get(key, np.nan) for b in buckets]
            positions = np.arange(len(buckets)) + (index - (len(features) - 1) / 2) * width
            ax.bar(positions, values, width, color=colors[feature], label=feature_label(feature))
        if buckets:
            first = next(c for (m, _), c in cells.items() if m == model and c.get("slices"))
            counts = first["slices"]["item_popularity"]["buckets"]
            ax.set_xticks(range(len(buckets)))
            ax.set_xticklabels([f"{b}\n({counts[b]['n_items']} items)" for b in buckets])
        ax.set_title(model_label(model))
        ax.set_ylabel(f"test {metric_label(metric, k)} within bucket")
        ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=min(5, len(labels)), fontsize=8, frameon=False)
    fig.suptitle(
        f"{spec.dataset}: {metric_label(metric, k)} by item popularity in training (head = most popular)"
    )
    legend_rows = math.ceil(len(labels) / 5) if handles else 0
    fig.tight_layout(rect=(0, 0.02 + 0.05 * legend_rows, 1, 1))
    return fig


def make_diagnostic_plots(
    dataset: str,
    diagnostics_paths: Sequence[str | Path],
    metrics_paths: Sequence[str | Path],
    outputs: Mapping[str, tuple[Path, Path]],
    metric: str,
    k: int,
    models: Sequence[str],
    strategies: Sequence[str],
) -> None:
    """Both figures of one dataset (PNG + SVG each)."""
    diagnostics = {}
    for path in diagnostics_paths:
        result = read_json(path)
        diagnostics[result.get("strategy", Path(path).stem)] = result
    cells = {}
    for path in metrics_paths:
        cell = read_json(path)
        if cell.get("status") == "ok":
            cells[(cell["model"], cell["feature"])] = cell
    spec = FigureSpec(dataset, metric, k, models, strategies)
    figures = {
        "agreement": plot_agreement(diagnostics, cells, spec),
        "popularity": plot_popularity(cells, spec),
    }
    for kind, fig in figures.items():
        save_figure(fig, *outputs[kind])
