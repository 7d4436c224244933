"""The comparison table: tidy CSV plus Markdown, LaTeX and HTML laid out like the paper's Table 2.

Layout: one block per dataset; rows model x feature (Original first, then the paper's order, other
strategies, the ID-only row); columns metric@k. Each value is the test mean over seeds (± std when
there are several), the relative change against the baseline feature, bold for the best feature of
its (dataset, model) block, † when it differs significantly from the baseline and ‡ when it differs
significantly from the block's best (Holm-corrected Wilcoxon, see significance.py).
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from vlmrec.report.cells import Cell
from vlmrec.report.labels import feature_label, feature_order, metric_label, model_label, ordered
from vlmrec.utils.io import atomic_path

TIDY_COLUMNS = [
    "dataset",
    "model",
    "feature",
    "metric",
    "k",
    "value",
    "std",
    "n_seeds",
    "best_params",
    "best_epoch",
    "status",
    "rel_change",
    "is_best",
    "sig_vs_baseline",
    "sig_vs_best",
    "p_holm_vs_baseline",
    "p_holm_vs_best",
    "feature_dim",
    "sig_vs_lightgcn",
    "p_holm_vs_lightgcn",
]
DAGGER, DOUBLE_DAGGER = "†", "‡"
SECTION = "§"  # differs significantly from the dataset's tuned LightGCN (ID only) cell


@dataclass(frozen=True)
class TableOrder:
    """Config order of datasets, models and strategies (rows follow it; unknown ones go last)."""

    datasets: Sequence[str] = ()
    models: Sequence[str] = ()
    features: Sequence[str] = ()


def _significance_lookup(significance: pd.DataFrame | None) -> dict[tuple, float]:
    """(dataset, model, metric, k, feature, comparison) -> Holm-adjusted p."""
    if significance is None or significance.empty:
        return {}
    return {
        (r.dataset, r.model, r.metric, int(r.k), r.feature, r.comparison): float(r.p_holm)
        for r in significance.itertuples()
    }


def tidy_table(
    cells: Sequence[Cell],
    metric_keys: Sequence[tuple[str, int]],
    baseline: str,
    significance: pd.DataFrame | None = None,
    alpha: float = 0.05,
    missing: Sequence[tuple[str, str, str]] = (),
) -> pd.DataFrame:
    """One row per (cell, metric, k); `missing` cells (partial table) get status `missing`."""
    sig = _significance_lookup(significance)
    by_key = {c.key: c for c in cells}
    rows: list[dict] = []
    for cell in cells:
        for metric, k in metric_keys:
            key = f"{metric}@{k}"
            value = cell.value(key) if cell.ok else math.nan
            base = by_key.get((cell.dataset, cell.model, baseline))
            base_value = base.value(key) if base is not None and base.ok else math.nan
            rel = (value - base_value) / base_value if base_value and cell.feature != baseline else math.nan
            p_base = sig.get((cell.dataset, cell.model, metric, k, cell.feature, "vs_baseline"), math.nan)
            p_best = sig.get((cell.dataset, cell.model, metric, k, cell.feature, "vs_best"), math.nan)
            p_id = sig.get((cell.dataset, cell.model, metric, k, cell.feature, "vs_lightgcn"), math.nan)
            rows.append(
                {
                    "dataset": cell.dataset,
                    "model": cell.model,
                    "feature": cell.feature,
                    "metric": metric,
                    "k": k,
                    "value": value,
                    "std": cell.std(key) if cell.ok else math.nan,
                    "n_seeds": cell.n_seeds,
                    "best_params": json.dumps(cell.best_params, sort_keys=True),
                    "best_epoch": cell.best_epoch,
                    "status": cell.status,
                    "rel_change": rel,
                    "sig_vs_baseline": bool(p_base < alpha),
                    "sig_vs_best": bool(p_best < alpha),
                    "p_holm_vs_baseline": p_base,
                    "p_holm_vs_best": p_best,
                    "feature_dim": cell.total_feature_dim,
                    "sig_vs_lightgcn": bool(p_id < alpha),
                    "p_holm_vs_lightgcn": p_id,
                }
            )
    for dataset, model, feature in missing:
        for metric, k in metric_keys:
            rows.append(
                {
                    "dataset": dataset,
                    "model": model,
                    "feature": feature,
                    "metric": metric,
                    "k": k,
                    "status": "missing",
                    "n_seeds": 0,
                    "sig_vs_baseline": False,
                    "sig_vs_best": False,
                    "sig_vs_lightgcn": False,
                }
            )
    frame = pd.DataFrame(rows, columns=TIDY_COLUMNS)
    frame["is_best"] = _best_flags(frame)
    return frame


def _best_flags(frame: pd.DataFrame) -> pd.Series:
    """True for the highest value of each (dataset, model, metric, k) block with > 1 finished row."""
    if frame.empty:
        return pd.Series([], dtype=bool)
    groups = frame.groupby(["dataset", "model", "metric", "k"])["value"]
    top = groups.transform("max")
    finished = groups.transform("count")
    return (frame["value"] == top) & (finished > 1)


def sort_tidy(frame: pd.DataFrame, order: TableOrder) -> pd.DataFrame:
    """Rows in table order: dataset, model (config order), feature (paper order), metric, k."""
    datasets = ordered(frame["dataset"], order.datasets)
    models = ordered(frame["model"], order.models)
    features = feature_order(frame["feature"], order.features)
    rank = {
        "dataset": {v: i for i, v in enumerate(datasets)},
        "model": {v: i for i, v in enumerate(models)},
        "feature": {v: i for i, v in enumerate(features)},
    }
    keys = frame.assign(**{f"_{c}": frame[c].map(r) for c, r in rank.items()})
    keys = keys.sort_values(["_dataset", "_model", "_feature", "k"], kind="stable")
    return keys.drop(columns=[f"_{c}" for c in rank]).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Rendering. A value cell is: bold(value ± std) (rel%) marks; each format spells these its way.


@dataclass(frozen=True)
class _Style:
    bold: str  # format string with {}
    pm: str
    rel: str  # format string with {}
    marks: str  # format string with {} for the marks (†, ‡ or both)
    missing: str


_STYLES = {
    "md": _Style("**{}**", " ± ", " ({})", "{}", "–"),
    "tex": _Style(r"\textbf{{{}}}", r"$\pm$", r" {{\scriptsize ({})}}", r"$^{{{}}}$", "--"),
    "html": _Style("<b>{}</b>", " ± ", ' <span class="rel">({})</span>', "<sup>{}</sup>", "–"),
}


def _percent(value: float, style: str) -> str:
    text = f"{value * 100:+.1f}%"
    return text.replace("%", r"\%") if style == "tex" else text


def format_value(row: pd.Series, style: str = "md", decimals: int = 4) -> str:
    """One table cell, e.g. `**0.0987 ± 0.0012** (+0.1%)†`."""
    s = _STYLES[style]
    if row["status"] == "missing":
        return "pending" if style != "tex" else r"\emph{pending}"
    if pd.isna(row["value"]):
        return f"{s.missing} ({row['status']})"
    text = f"{row['value']:.{decimals}f}"
    if row["n_seeds"] > 1 and not pd.isna(row["std"]):
        text += f"{s.pm}{row['std']:.{decimals}f}"
    if row["is_best"]:
        text = s.bold.format(text)
    if not pd.isna(row["rel_change"]):
        text += s.rel.format(_percent(row["rel_change"], style))
    marks = (DAGGER if row["sig_vs_baseline"] else "") + (DOUBLE_DAGGER if row["sig_vs_best"] else "")
    sig_id = row.get("sig_vs_lightgcn", False)  # absent in tables written before the LightGCN tests
    marks += SECTION if pd.notna(sig_id) and bool(sig_id) else ""
    if marks:
        if style == "tex":
            marks = marks.replace(DAGGER, r"\dagger").replace(DOUBLE_DAGGER, r"\ddagger")
            marks = marks.replace(SECTION, r"\S")
        text += s.marks.format(marks)
    return text


def _blocks(frame: pd.DataFrame, metric_keys: Sequence[tuple[str, int]], style: str):
    """Yield (dataset, rows); each row is [model label or '', feature label, *value cells]."""
    for dataset, block in frame.groupby("dataset", sort=False):
        rows = []
        previous_model = None
        for (model, feature), cell_rows in block.groupby(["model", "feature"], sort=False):
            by_metric = {(r["metric"], int(r["k"])): r for _, r in cell_rows.iterrows()}
            values = [format_value(by_metric[mk], style) if mk in by_metric else "" for mk in metric_keys]
            label = model_label(model) if model != previous_model else ""
            rows.append([label, feature_label(feature), *values])
            previous_model = model
        yield dataset, rows


def legend(baseline: str, alpha: float, n_seeds: Sequence[int]) -> str:
    """The footnote explaining marks (plain text, shared by every format)."""
    seeds = sorted({int(n) for n in n_seeds if n})
    seed_text = "/".join(str(n) for n in seeds) or "0"
    return (
        f"Test set; mean over {seed_text} seed(s), ± standard deviation over seeds when there are several. "
        f"Bold: best feature of its (dataset, model) block. (±x%): relative change against "
        f"{feature_label(baseline)}. † differs from {feature_label(baseline)}, ‡ differs from the "
        f"block's best, § differs from the tuned LightGCN (ID only) of the dataset: two-sided Wilcoxon "
        f"signed-rank test over users (per-user values averaged over seeds), Holm-corrected within "
        f"the block, alpha = {alpha}."
    )


def render_markdown(
    frame: pd.DataFrame, metric_keys: Sequence[tuple[str, int]], baseline: str, alpha: float
) -> str:
    header = ["Model", "Feature", *(metric_label(m, k) for m, k in metric_keys)]
    lines = ["# Comparison table", ""]
    for dataset, rows in _blocks(frame, metric_keys, "md"):
        lines += [f"## {dataset}", "", "| " + " | ".join(header) + " |"]
        lines.append("| --- | --- | " + " | ".join("---:" for _ in metric_keys) + " |")
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        lines.append("")
    lines.append(legend(baseline, alpha, frame["n_seeds"]))
    return "\n".join(lines) + "\n"


def _tex_escape(text: str) -> str:
    for char, repl in (("\\", r"\textbackslash{}"), ("_", r"\_"), ("&", r"\&"), ("%", r"\%"), ("#", r"\#")):
        text = text.replace(char, repl)
    return text


def render_latex(
    frame: pd.DataFrame, metric_keys: Sequence[tuple[str, int]], baseline: str, alpha: float
) -> str:
    """A booktabs tabular with its legend as a table note, ready to ``\\input`` in a table float.

    Needs ``\\usepackage{booktabs,threeparttable}``; one titled block per dataset.
    """
    n_cols = 2 + len(metric_keys)
    header = ["Model", "Feature", *(_tex_escape(metric_label(m, k)) for m, k in metric_keys)]
    lines = [
        r"% Generated by vlmrec (python -m vlmrec aggregate). Needs \usepackage{booktabs,threeparttable}.",
        r"% Use: \begin{table}\centering\caption{...}\input{table.tex}\end{table}",
        r"\begin{threeparttable}",
        r"\begin{tabular}{ll" + "r" * len(metric_keys) + "}",
        r"\toprule",
        " & ".join(header) + r" \\",
    ]
    for dataset, rows in _blocks(frame, metric_keys, "tex"):
        lines += [r"\midrule", rf"\multicolumn{{{n_cols}}}{{l}}{{\textit{{{_tex_escape(dataset)}}}}} \\"]
        for row in rows:
            lines.append(" & ".join([_tex_escape(row[0]), _tex_escape(row[1]), *row[2:]]) + r" \\")
    text = legend(baseline, alpha, frame["n_seeds"])
    text = (
        _tex_escape(text)
        .replace("±", r"$\pm$")
        .replace("†", r"$^{\dagger}$")
        .replace("‡", r"$^{\ddagger}$")
        .replace("§", r"\S{}")
    )
    lines += [
        r"\bottomrule",
        r"\end{tabular}",
        r"\begin{tablenotes}[flushleft]\footnotesize",
        r"\item " + text,
        r"\end{tablenotes}",
        r"\end{threeparttable}",
    ]
    return "\n".join(lines) + "\n"


HTML_HEAD = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>vlmrec comparison table</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5em; }
table.vlmrec { border-collapse: collapse; margin-bottom: 1.5em; }
table.vlmrec th, table.vlmrec td { padding: 0.25em 0.8em; border-bottom: 1px solid #ddd; }
table.vlmrec td.value { text-align: right; font-variant-numeric: tabular-nums; }
.rel { color: #666; font-size: 85%; }
p.legend { max-width: 60em; color: #444; font-size: 90%; }
table.tidy { border-collapse: collapse; font-size: 85%; }
table.tidy th, table.tidy td { padding: 0.15em 0.5em; border-bottom: 1px solid #eee; text-align: right; }
details { margin-top: 1.5em; }
</style></head><body>
"""


def render_html(
    frame: pd.DataFrame, metric_keys: Sequence[tuple[str, int]], baseline: str, alpha: float
) -> str:
    """A standalone page (the Snakemake report shows it as is)."""
    parts = [HTML_HEAD, "<h1>Comparison table</h1>"]
    for dataset, rows in _blocks(frame, metric_keys, "html"):
        parts.append(
            f'<h2>{html.escape(dataset)}</h2>\n<table class="vlmrec" data-dataset="{html.escape(dataset)}">'
        )
        header = ["Model", "Feature", *(metric_label(m, k) for m, k in metric_keys)]
        parts.append("<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>")
        for row in rows:
            cells = [f"<td>{html.escape(row[0])}</td>", f"<td>{html.escape(row[1])}</td>"]
            cells += [f'<td class="value">{value}</td>' for value in row[2:]]
            parts.append("<tr>" + "".join(cells) + "</tr>")
        parts.append("</table>")
    parts.append(f'<p class="legend">{html.escape(legend(baseline, alpha, frame["n_seeds"]))}</p>')
    parts.append("<details><summary>The same numbers in tidy form (table.csv)</summary>")
    parts.append(frame_to_html(frame, "tidy"))
    parts.append("</details>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def frame_to_html(frame: pd.DataFrame, css_class: str, decimals: int = 4) -> str:
    """A plain HTML table of a DataFrame (floats rounded, p-values in scientific notation)."""

    def cell(column: str, value: object) -> str:
        if isinstance(value, float):
            if math.isnan(value):
                return ""
            if column.startswith("p_") or column == "p_value":
                return f"{value:.2e}"
            return f"{value:.{decimals}f}"
        return html.escape(str(value))

    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = [
        "<tr>" + "".join(f"<td>{cell(c, v)}</td>" for c, v in zip(frame.columns, row)) + "</tr>"
        for row in frame.itertuples(index=False)
    ]
    return "\n".join([f'<table class="{css_class}">', f"<tr>{head}</tr>", *body, "</table>"])


def render_significance_html(significance: pd.DataFrame, alpha: float) -> str:
    """significance.csv as a page of its own (what the Snakemake report shows inline)."""
    parts = [
        HTML_HEAD.replace("vlmrec comparison table", "vlmrec significance tests"),
        "<h1>Paired significance tests</h1>",
        f'<p class="legend">One row per comparison; <code>significant</code>: Holm-adjusted p &lt; {alpha}. '
        "Columns as in significance.csv (docs/report.md).</p>",
    ]
    if significance.empty:
        parts.append("<p>No comparisons (no block has two finished features).</p>")
    else:
        parts.append(frame_to_html(significance, "tidy"))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_csv(path: str | Path, frame: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
