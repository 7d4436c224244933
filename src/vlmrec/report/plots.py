"""Figures for one dataset (matplotlib Agg; PNG for the report, SVG for papers).

- bars: the primary metric (R@20 by default) per strategy, grouped by model, ± std over seeds;
- curves: the validation curve of each cell's chosen runs (curve.csv), mean over seeds;
- dims: total feature dimension vs the primary metric (the paper's "half the dimensions" point);
- cost: feature-extraction wall time (manifest `wall_time_s`) vs the primary metric.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: no display on clusters or CI

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from vlmrec.report.cells import Cell, load_cells  # noqa: E402
from vlmrec.report.labels import (  # noqa: E402
    feature_label,
    feature_order,
    metric_label,
    model_label,
    ordered,
)
from vlmrec.report.table import TableOrder  # noqa: E402
from vlmrec.utils.io import atomic_path  # noqa: E402

log = logging.getLogger(__name__)
PLOT_KINDS = ("bars", "curves", "dims", "cost")


@dataclass(frozen=True)
class FeatureInfo:
    """What the report needs from a feature manifest."""

    strategy: str
    dim: int | None
    wall_time_s: float | None


def load_manifests(paths: Sequence[str | Path]) -> dict[str, FeatureInfo]:
    """strategy -> dims and extraction time, from the feature stage's manifest.json files."""
    infos: dict[str, FeatureInfo] = {}
    for path in map(Path, paths):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
        strategy = str(data.get("strategy") or path.parent.name)
        dims = [m.get("dim") for m in (data.get("modalities") or {}).values()]
        wall = data.get("wall_time_s")
        infos[strategy] = FeatureInfo(
            strategy=strategy,
            dim=sum(int(d) for d in dims) if dims and all(d is not None for d in dims) else None,
            wall_time_s=None if wall is None else float(wall),
        )
    return infos


def save_figure(fig: Any, png: str | Path, svg: str | Path | None) -> None:
    """Write PNG (and SVG) atomically; SVG without a date so reruns give identical files."""
    with atomic_path(png, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=130, bbox_inches="tight", format="png")
    if svg is not None:
        # A fixed hash salt makes the SVG element ids, hence the file, identical across reruns.
        with atomic_path(svg, suffix=".svg") as tmp, plt.rc_context({"svg.hashsalt": "vlmrec"}):
            fig.savefig(tmp, bbox_inches="tight", format="svg", metadata={"Date": None})
    plt.close(fig)


def _message_figure(title: str, message: str) -> Any:
    fig, ax = plt.subplots(figsize=(6, 2.5))
    ax.set_axis_off()
    ax.set_title(title)
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    return fig


def plot_bars(cells: Sequence[Cell], key: str, label: str, dataset: str, order: TableOrder) -> Any:
    """Grouped bars: one group per model, one bar per feature, error bars = std over seeds."""
    models = ordered({c.model for c in cells}, order.models)
    features = feature_order({c.feature for c in cells}, order.features)
    by_key = {(c.model, c.feature): c for c in cells}
    width = 0.8 / max(len(features), 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(models) + 0.4 * len(features)), 4))
    colors = plt.get_cmap("tab10")
    for i, feature in enumerate(features):
        xs, heights, errs = [], [], []
        for j, model in enumerate(models):
            cell = by_key.get((model, feature))
            if cell is None or not cell.ok or math.isnan(cell.value(key)):
                continue
            xs.append(j - 0.4 + width * (i + 0.5))
            heights.append(cell.value(key))
            errs.append(0.0 if math.isnan(cell.std(key)) else cell.std(key))
        if xs:
            ax.bar(
                xs, heights, width, yerr=errs, capsize=2, label=feature_label(feature), color=colors(i % 10)
            )
    ax.set_xticks(range(len(models)), [model_label(m) for m in models])
    ax.set_ylabel(f"test {label}")
    ax.set_title(f"{dataset}: test {label} per feature strategy (± std over seeds)")
    ax.legend(fontsize="small", ncol=2, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def _mean_curve(path: Path, column: str) -> pd.DataFrame | None:
    """Mean over seeds of `column` per epoch (rows with the metric only: eval epochs)."""
    if not path.exists():
        log.warning("%s: no validation curve; skipped", path)
        return None
    frame = pd.read_csv(path)
    if column not in frame.columns or "epoch" not in frame.columns:
        log.warning("%s: no '%s' column; skipped", path, column)
        return None
    frame = frame.dropna(subset=[column])
    return frame.groupby("epoch", as_index=False)[column].mean()


def plot_curves(cells: Sequence[Cell], key: str, label: str, dataset: str, order: TableOrder) -> Any:
    """One panel per model: validation `key` per epoch for each feature's chosen run."""
    models = ordered({c.model for c in cells}, order.models)
    features = feature_order({c.feature for c in cells}, order.features)
    by_key = {(c.model, c.feature): c for c in cells}
    fig, axes = plt.subplots(1, len(models), figsize=(4.5 * len(models), 3.6), squeeze=False, sharey=True)
    colors = plt.get_cmap("tab10")
    for ax, model in zip(axes[0], models):
        for i, feature in enumerate(features):
            cell = by_key.get((model, feature))
            curve = None if cell is None else _mean_curve(cell.curve_path, f"valid_{key}")
            if curve is not None and not curve.empty:
                ax.plot(
                    curve["epoch"], curve[f"valid_{key}"], label=feature_label(feature), color=colors(i % 10)
                )
        ax.set_title(model_label(model))
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(f"validation {label}")
    handles, labels = axes[0][0].get_legend_handles_labels()
    for ax in axes[0][1:]:
        extra_h, extra_l = ax.get_legend_handles_labels()
        for h, lab in zip(extra_h, extra_l):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, fontsize="small", frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.suptitle(f"{dataset}: validation curves of the chosen runs (mean over seeds)")
    fig.tight_layout()
    return fig


def _scatter(
    cells: Sequence[Cell],
    xs: dict[str, float],
    key: str,
    label: str,
    xlabel: str,
    title: str,
    order: TableOrder,
) -> Any:
    """Metric vs a per-feature quantity, one marker series per model, points labelled by feature."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    markers = "osD^vP*X"
    for i, model in enumerate(ordered({c.model for c in cells}, order.models)):
        points = [
            (xs[c.feature], c.value(key), c.feature)
            for c in cells
            if c.model == model and c.ok and c.feature in xs and not math.isnan(c.value(key))
        ]
        if not points:
            continue
        x, y, _ = zip(*points)
        ax.scatter(x, y, marker=markers[i % len(markers)], label=model_label(model))
        for xi, yi, name in points:
            ax.annotate(feature_label(name), (xi, yi), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"test {label}")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", frameon=True, loc="best")
    return fig


def feature_dims(cells: Sequence[Cell], manifests: dict[str, FeatureInfo]) -> dict[str, float]:
    """Total input dimension per feature: metrics.json `feature_dims`, else the manifest."""
    dims: dict[str, float] = {}
    for cell in cells:
        if cell.total_feature_dim is not None:
            dims.setdefault(cell.feature, float(cell.total_feature_dim))
    for strategy, info in manifests.items():
        if info.dim is not None:
            dims.setdefault(strategy, float(info.dim))
    return dims


def make_dataset_plots(
    dataset: str,
    metrics_paths: Sequence[str | Path],
    manifest_paths: Sequence[str | Path],
    outputs: dict[str, tuple[Path, Path | None]],
    metric: str = "recall",
    k: int = 20,
    order: TableOrder | None = None,
) -> list[Path]:
    """Write the figures named in `outputs` (kind -> (png, svg)) for one dataset's cells."""
    order = order or TableOrder()
    cells = [c for c in load_cells(list(metrics_paths)) if c.dataset == dataset]
    if not cells:
        raise ValueError(f"no cells of dataset '{dataset}' among {len(metrics_paths)} metrics files")
    manifests = load_manifests(manifest_paths)
    key, label = f"{metric}@{k}", metric_label(metric, k)
    unknown = set(outputs) - set(PLOT_KINDS)
    if unknown:
        raise ValueError(f"unknown plot kind(s) {sorted(unknown)}; known: {PLOT_KINDS}")
    written: list[Path] = []
    for kind, (png, svg) in outputs.items():
        fig = _figure(kind, cells, manifests, key, label, dataset, order)
        save_figure(fig, png, svg)
        written += [Path(png)] + ([Path(svg)] if svg is not None else [])
        log.info("wrote %s plot %s", kind, png)
    return written


def _figure(
    kind: str,
    cells: Sequence[Cell],
    manifests: dict[str, FeatureInfo],
    key: str,
    label: str,
    dataset: str,
    order: TableOrder,
) -> Any:
    if kind == "bars":
        return plot_bars(cells, key, label, dataset, order)
    if kind == "curves":
        return plot_curves(cells, key, label, dataset, order)
    if kind == "dims":
        dims = feature_dims(cells, manifests)
        if not dims:
            return _message_figure(f"{dataset}: feature dimension", "no feature dimensions recorded")
        return _scatter(
            cells,
            dims,
            key,
            label,
            "item feature dimension (all modalities)",
            f"{dataset}: feature dimension vs test {label}",
            order,
        )
    costs = {s: i.wall_time_s for s, i in manifests.items() if i.wall_time_s is not None}
    if not costs:
        return _message_figure(f"{dataset}: extraction cost", "the feature manifests carry no wall_time_s")
    fig = _scatter(
        cells,
        costs,
        key,
        label,
        "feature extraction wall time [s] (manifest)",
        f"{dataset}: extraction cost vs test {label}",
        order,
    )
    if np.ptp(list(costs.values())) > 0 and min(costs.values()) > 0:
        fig.axes[0].set_xscale("log")
    return fig
