"""Figures for one dataset (matplotlib Agg; PNG for the report, SVG for papers).

Every figure has one panel per feature-using model (up to four panels a row), so it stays readable
with many models and strategies; a strategy has the same colour in every figure, and ID-only
models (LightGCN) are drawn as horizontal/vertical reference lines in every panel, not as points.

- bars (a dot plot): the primary metric (R@20 by default) per strategy, ± std over seeds, x-axis
  fitted to the values so differences show; filled dot = significantly different from the
  baseline feature (†, from table.csv), hollow = not; a dotted line at the baseline's value;
- curves: the validation curve of each cell's chosen runs (curve.csv), mean over seeds, integer
  epoch ticks;
- dims: total feature dimension vs the metric (log2 axis; strategies with the same dimension are
  spread sideways, Textual and Dual joined: the paper's "half the dimensions" point);
- cost: the full extraction cost vs the metric: a derived set (Dual = Visual + Textual) counts its
  own step plus the sets it reuses (manifest ``sources``/``reuses``, recursively).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: no display on clusters or CI

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import FixedLocator, MaxNLocator, NullFormatter, NullLocator  # noqa: E402

from vlmrec.report.cells import Cell, load_cells  # noqa: E402
from vlmrec.report.labels import (  # noqa: E402
    ID_FEATURE,
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
PANELS_PER_ROW = 4
REFERENCE_STYLES = ("--", "-.", ":", (0, (5, 1, 1, 1)))


@dataclass(frozen=True)
class FeatureInfo:
    """What the report needs from a feature manifest."""

    strategy: str
    dim: int | None
    wall_time_s: float | None
    sources: tuple[str, ...] = ()  # feature sets a derived strategy is built from (no encoding)


def load_manifests(paths: Sequence[str | Path]) -> dict[str, FeatureInfo]:
    """strategy -> dims, extraction time and reused sets, from the feature stage's manifest.json."""
    infos: dict[str, FeatureInfo] = {}
    for path in map(Path, paths):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
        strategy = str(data.get("strategy") or path.parent.name)
        dims = [m.get("dim") for m in (data.get("modalities") or {}).values()]
        wall = data.get("wall_time_s")
        sources = list(data.get("reuses") or []) + list(data.get("sources") or {})
        infos[strategy] = FeatureInfo(
            strategy=strategy,
            dim=sum(int(d) for d in dims) if dims and all(d is not None for d in dims) else None,
            wall_time_s=None if wall is None else float(wall),
            sources=tuple(dict.fromkeys(sources)),
        )
    return infos


def full_costs(manifests: Mapping[str, FeatureInfo]) -> dict[str, float]:
    """Wall time of a set including the sets it reuses (Dual = Visual + Textual + its own step).

    A strategy whose own time, or any reused set's, is unknown is left out (its full cost is unknown).
    """
    memo: dict[str, float | None] = {}

    def cost(name: str, seen: tuple[str, ...]) -> float | None:
        if name in memo:
            return memo[name]
        info = manifests.get(name)
        if info is None or info.wall_time_s is None or name in seen:
            return None
        parts = [cost(source, (*seen, name)) for source in info.sources]
        memo[name] = None if any(p is None for p in parts) else info.wall_time_s + sum(parts)  # type: ignore[arg-type]
        return memo[name]

    return {name: value for name in manifests if (value := cost(name, ())) is not None}


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


# --------------------------------------------------------------------------------------------- layout
@dataclass(frozen=True)
class _Layout:
    """The cells of a dataset split into feature-using panels and ID-only reference rows."""

    models: list[str]  # feature-using models, one panel each
    references: list[Cell]  # ID-only cells (LightGCN): reference lines
    features: list[str]  # strategies in table order
    cells: dict[tuple[str, str], Cell]
    colors: dict[str, Any]


def _layout(cells: Sequence[Cell], order: TableOrder) -> _Layout:
    by_model: dict[str, set[str]] = {}
    for cell in cells:
        by_model.setdefault(cell.model, set()).add(cell.feature)
    id_only = {m for m, fs in by_model.items() if fs == {ID_FEATURE}}
    models = [m for m in ordered(by_model, order.models) if m not in id_only]
    references = [c for m in ordered(id_only, order.models) for c in cells if c.model == m]
    features = feature_order({c.feature for c in cells if c.model not in id_only}, order.features)
    return _Layout(
        models, references, features, {(c.model, c.feature): c for c in cells}, feature_colors(features)
    )


def feature_colors(features: Sequence[str]) -> dict[str, Any]:
    """A stable colour per strategy: its rank in table order in tab10 (tab20 beyond ten)."""
    cmap = plt.get_cmap("tab10" if len(features) <= 10 else "tab20")
    return {feature: cmap(i % cmap.N) for i, feature in enumerate(features)}


def _panels(
    n: int, width: float, height: float, sharey: bool = False, sharex: bool = False
) -> tuple[Any, list]:
    """A grid of n panels, PANELS_PER_ROW a row; unused slots hidden."""
    n = max(n, 1)
    cols = min(n, PANELS_PER_ROW)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(width * cols, height * rows), squeeze=False, sharey=sharey, sharex=sharex
    )
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _ok_value(cell: Cell | None, key: str) -> float | None:
    if cell is None or not cell.ok or math.isnan(cell.value(key)):
        return None
    return cell.value(key)


def _reference_handles(layout: _Layout, key: str) -> list[tuple[Line2D, str]]:
    """Legend entries of the ID-only reference lines."""
    handles = []
    for i, cell in enumerate(layout.references):
        if _ok_value(cell, key) is None:
            continue
        style = REFERENCE_STYLES[i % len(REFERENCE_STYLES)]
        line = Line2D([], [], color="0.35", linestyle=style, linewidth=1.2)
        handles.append((line, f"{model_label(cell.model)} ({feature_label(cell.feature)})"))
    return handles


def _draw_references(ax: Any, layout: _Layout, key: str, vertical: bool) -> list[float]:
    """ID-only models as lines across the panel; returns their values (for the axis limits)."""
    values = []
    for i, cell in enumerate(layout.references):
        value = _ok_value(cell, key)
        if value is None:
            continue
        style = REFERENCE_STYLES[i % len(REFERENCE_STYLES)]
        draw = ax.axvline if vertical else ax.axhline
        draw(value, color="0.35", linestyle=style, linewidth=1.2, zorder=1)
        values.append(value)
    return values


def _feature_legend(
    fig: Any,
    layout: _Layout,
    features: Sequence[str],
    extra: Sequence[tuple[Any, str]] = (),
    lines: bool = False,
) -> None:
    handles = [
        Line2D([], [], color=layout.colors[f], linewidth=1.5)
        if lines
        else Line2D([], [], marker="o", linestyle="", color=layout.colors[f], markersize=7)
        for f in features
    ]
    labels = [feature_label(f) for f in features]
    for handle, label in extra:
        handles.append(handle)
        labels.append(label)
    fig.legend(
        handles,
        labels,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        ncol=min(len(labels), 7) or 1,
        frameon=False,
        fontsize="small",
    )


def _fit_limits(ax: Any, values: Sequence[float], axis: str) -> None:
    """Limits around the values (not from 0), so small differences are visible."""
    values = [v for v in values if v is not None and math.isfinite(v)]
    if not values:
        return
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.12 or abs(hi) * 0.05 or 0.01
    (ax.set_xlim if axis == "x" else ax.set_ylim)(lo - pad, hi + pad)


# --------------------------------------------------------------------------------------------- dot plot
def significance_marks(
    table_csv: str | Path | None, dataset: str, metric: str, k: int
) -> dict[tuple[str, str], bool]:
    """(model, feature) -> † (significantly different from the baseline feature), from table.csv."""
    if table_csv is None or not Path(table_csv).exists():
        return {}
    frame = pd.read_csv(table_csv)
    rows = frame[(frame["dataset"] == dataset) & (frame["metric"] == metric) & (frame["k"] == k)]
    return {(r.model, r.feature): bool(r.sig_vs_baseline) for r in rows.itertuples()}


def plot_bars(
    cells: Sequence[Cell],
    key: str,
    label: str,
    dataset: str,
    order: TableOrder,
    baseline: str = "original",
    marks: Mapping[tuple[str, str], bool] | None = None,
) -> Any:
    """Dot plot: one panel per model, a row per strategy, ± std over seeds, † as filled dots."""
    layout = _layout(cells, order)
    marks = marks or {}
    height = 0.9 + 0.32 * max(len(layout.features), 1)
    fig, axes = _panels(len(layout.models), 3.4 if len(layout.models) > 2 else 4.6, height, sharey=True)
    rows = {feature: i for i, feature in enumerate(layout.features)}
    for ax, model in zip(axes, layout.models):
        values = _draw_references(ax, layout, key, vertical=True)
        base = _ok_value(layout.cells.get((model, baseline)), key)
        if base is not None:
            ax.axvline(base, color=layout.colors.get(baseline, "k"), linestyle=":", linewidth=1, zorder=1)
        for feature in layout.features:
            cell = layout.cells.get((model, feature))
            value = _ok_value(cell, key)
            if value is None:
                continue
            std = cell.std(key)
            err = 0.0 if math.isnan(std) else std
            color = layout.colors[feature]
            filled = feature == baseline or marks.get((model, feature), False)
            ax.errorbar(value, rows[feature], xerr=err, fmt="none", ecolor=color, capsize=2, zorder=2)
            ax.plot(
                value,
                rows[feature],
                marker="s" if feature == baseline else "o",
                markersize=7,
                color=color,
                markerfacecolor=color if filled else "white",
                markeredgewidth=1.5,
                zorder=3,
            )
            values += [value - err, value + err]
        _fit_limits(ax, values, "x")
        ax.set_title(model_label(model))
        ax.set_xlabel(f"test {label}")
        ax.grid(axis="x", alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
    if axes:
        axes[0].set_yticks(range(len(layout.features)), [feature_label(f) for f in layout.features])
        axes[0].set_ylim(len(layout.features) - 0.5, -0.5)  # table order, top to bottom
    base_color = layout.colors.get(baseline, "k")
    extra = [
        (
            Line2D([], [], marker="s", linestyle=":", color=base_color, markerfacecolor=base_color),
            f"{feature_label(baseline)} (reference)",
        ),
        (
            Line2D([], [], marker="o", linestyle="", color="0.3", markerfacecolor="0.3"),
            f"† vs {feature_label(baseline)} (filled)",
        ),
        (
            Line2D([], [], marker="o", linestyle="", color="0.3", markerfacecolor="white"),
            "not significant",
        ),
        *_reference_handles(layout, key),
    ]
    _legend_only(fig, extra, ncol=2 if len(layout.models) < 2 else 4)
    fig.suptitle(f"{dataset}: test {label} per feature strategy (mean ± std over seeds)")
    fig.tight_layout()
    return fig


def _legend_only(fig: Any, entries: Sequence[tuple[Any, str]], ncol: int = 4) -> None:
    if entries:
        fig.legend(
            [h for h, _ in entries],
            [lab for _, lab in entries],
            loc="upper center",
            bbox_to_anchor=(0.5, 0.0),
            ncol=min(len(entries), ncol),
            frameon=False,
            fontsize="small",
        )


# --------------------------------------------------------------------------------------------- curves
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


def plot_curves(
    cells: Sequence[Cell], key: str, label: str, dataset: str, order: TableOrder, baseline: str = "original"
) -> Any:
    """One panel per model: validation `key` per epoch for each feature's chosen run."""
    layout = _layout(cells, order)
    fig, axes = _panels(len(layout.models), 4.0, 3.2)
    column = f"valid_{key}"
    drawn: list[str] = []
    for ax, model in zip(axes, layout.models):
        for feature in layout.features:
            cell = layout.cells.get((model, feature))
            curve = None if cell is None else _mean_curve(cell.curve_path, column)
            if curve is None or curve.empty:
                continue
            width = 2.0 if feature == baseline else 1.2
            ax.plot(curve["epoch"], curve[column], color=layout.colors[feature], linewidth=width)
            drawn.append(feature)
        for i, ref in enumerate(layout.references):
            curve = _mean_curve(ref.curve_path, column)
            if curve is not None and not curve.empty:
                style = REFERENCE_STYLES[i % len(REFERENCE_STYLES)]
                ax.plot(curve["epoch"], curve[column], color="0.35", linestyle=style, linewidth=1.2)
        ax.set_title(model_label(model))
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"validation {label}")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    features = [f for f in layout.features if f in drawn]
    _feature_legend(fig, layout, features, _reference_handles(layout, key), lines=True)
    fig.suptitle(f"{dataset}: validation curves of the chosen runs (mean over seeds)")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------- scatter
def _dodge(xs: Mapping[str, float], features: Sequence[str], log_axis: bool) -> dict[str, float]:
    """Spread strategies that share an x value sideways (a few % on a log axis) so none hides another."""
    groups: dict[float, list[str]] = {}
    for feature in features:
        if feature in xs:
            groups.setdefault(xs[feature], []).append(feature)
    placed = {}
    for x, members in groups.items():
        n = len(members)
        step = min(0.05, 0.3 / max(n - 1, 1))  # at most +-0.15 octave, so groups stay apart
        for i, feature in enumerate(members):
            offset = (i - (n - 1) / 2) * step
            placed[feature] = x * 2**offset if log_axis else x + offset * (abs(x) or 1.0)
    return placed


def _scatter(
    cells: Sequence[Cell],
    xs: Mapping[str, float],
    key: str,
    label: str,
    xlabel: str,
    title: str,
    order: TableOrder,
    pairs: Sequence[tuple[str, str]] = (),
    derived: frozenset[str] = frozenset(),
    exact_ticks: bool = False,
) -> Any:
    """Metric vs a per-strategy quantity (log x), one panel per model; colour = strategy.

    exact_ticks: a log2 axis (dimensions), else log10 (seconds); ticks are at the data's own values.
    """
    layout = _layout(cells, order)
    features = [f for f in layout.features if f in xs]
    xs = {f: max(float(v), 1e-3) for f, v in xs.items()}  # a log axis: a 0 s step is drawn at 1 ms
    placed = _dodge(xs, features, log_axis=True)
    fig, axes = _panels(len(layout.models), 3.6, 3.2, sharex=True)
    for ax, model in zip(axes, layout.models):
        values = _draw_references(ax, layout, key, vertical=False)
        points = {}
        for feature in features:
            value = _ok_value(layout.cells.get((model, feature)), key)
            if value is None:
                continue
            points[feature] = (placed[feature], value)
            marker = "D" if feature in derived else "o"
            ax.scatter(*points[feature], color=layout.colors[feature], marker=marker, s=38, zorder=3)
            values.append(value)
        for a, b in pairs:
            if a in points and b in points:
                (x0, y0), (x1, y1) = points[a], points[b]
                ax.plot([x0, x1], [y0, y1], color="0.6", linewidth=0.8, zorder=2)
        _fit_limits(ax, values, "y")
        ax.set_xscale("log", base=2 if exact_ticks else 10)
        ax.set_title(model_label(model))
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f"test {label}")
        ax.grid(alpha=0.3)
    # Ticks at the data's own values, labels vertical: readable within one decade and never crowded.
    _x_ticks(axes, sorted(set(xs[f] for f in features)))
    extra = list(_reference_handles(layout, key))
    if derived & set(features):
        extra.append((Line2D([], [], marker="D", linestyle="", color="0.3"), "derived set (full cost)"))
    _feature_legend(fig, layout, features, extra)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _x_ticks(axes: Sequence[Any], ticks: Sequence[float]) -> None:
    """Ticks at the data's own x values (dimensions, seconds) instead of powers of two."""
    if not ticks:
        return
    shown = list(ticks) if len(ticks) <= 10 else list(np.geomspace(ticks[0], ticks[-1], 6))
    for ax in axes:
        ax.xaxis.set_major_locator(FixedLocator(shown))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_minor_formatter(NullFormatter())
        # Vertical labels: close dimensions (2816 and 3072) never overlap.
        ax.set_xticks(shown, [_short(t) for t in shown], rotation=90, fontsize="small")
        ax.tick_params(axis="x", labelbottom=True)
        ax.set_xlim(ticks[0] / 1.4, ticks[-1] * 1.4)


def _short(value: float) -> str:
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


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


# --------------------------------------------------------------------------------------------- entry
@dataclass(frozen=True)
class _Inputs:
    cells: list[Cell]
    manifests: dict[str, FeatureInfo]
    key: str
    label: str
    dataset: str
    order: TableOrder
    baseline: str
    marks: dict[tuple[str, str], bool]


def make_dataset_plots(
    dataset: str,
    metrics_paths: Sequence[str | Path],
    manifest_paths: Sequence[str | Path],
    outputs: dict[str, tuple[Path, Path | None]],
    metric: str = "recall",
    k: int = 20,
    order: TableOrder | None = None,
    table_csv: str | Path | None = None,
    baseline: str = "original",
) -> list[Path]:
    """Write the figures named in `outputs` (kind -> (png, svg)) for one dataset's cells.

    `table_csv` (the aggregate step's table.csv) supplies the † marks of the dot plot.
    """
    order = order or TableOrder()
    cells = [c for c in load_cells(list(metrics_paths)) if c.dataset == dataset]
    if not cells:
        raise ValueError(f"no cells of dataset '{dataset}' among {len(metrics_paths)} metrics files")
    unknown = set(outputs) - set(PLOT_KINDS)
    if unknown:
        raise ValueError(f"unknown plot kind(s) {sorted(unknown)}; known: {PLOT_KINDS}")
    inputs = _Inputs(
        cells=cells,
        manifests=load_manifests(manifest_paths),
        key=f"{metric}@{k}",
        label=metric_label(metric, k),
        dataset=dataset,
        order=order,
        baseline=baseline,
        marks=significance_marks(table_csv, dataset, metric, k),
    )
    written: list[Path] = []
    for kind, (png, svg) in outputs.items():
        save_figure(_figure(kind, inputs), png, svg)
        written += [Path(png)] + ([Path(svg)] if svg is not None else [])
        log.info("wrote %s plot %s", kind, png)
    return written


def _figure(kind: str, x: _Inputs) -> Any:
    if not _layout(x.cells, x.order).models:
        return _message_figure(f"{x.dataset}: {kind}", "no model with item features in this run")
    if kind == "bars":
        return plot_bars(x.cells, x.key, x.label, x.dataset, x.order, x.baseline, x.marks)
    if kind == "curves":
        return plot_curves(x.cells, x.key, x.label, x.dataset, x.order, x.baseline)
    if kind == "dims":
        dims = feature_dims(x.cells, x.manifests)
        if not dims:
            return _message_figure(f"{x.dataset}: feature dimension", "no feature dimensions recorded")
        return _scatter(
            x.cells,
            dims,
            x.key,
            x.label,
            "item feature dimension (all modalities)",
            f"{x.dataset}: feature dimension vs test {x.label} (Textual and Dual joined)",
            x.order,
            pairs=[("textual", "dual")],
            exact_ticks=True,
        )
    costs = full_costs(x.manifests)
    if not costs:
        return _message_figure(f"{x.dataset}: extraction cost", "the feature manifests carry no wall_time_s")
    derived = frozenset(s for s, info in x.manifests.items() if info.sources)
    return _scatter(
        x.cells,
        costs,
        x.key,
        x.label,
        "extraction wall time [s], reused sets included",
        f"{x.dataset}: feature extraction cost vs test {x.label}",
        x.order,
        derived=derived,
    )
