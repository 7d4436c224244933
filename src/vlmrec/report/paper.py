"""Our table next to the paper's Table 2 (config `report.paper_table`), for the cells both have."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from vlmrec.report.labels import feature_label, feature_order, metric_label, model_label, ordered
from vlmrec.report.table import HTML_HEAD, write_text

PAPER_K = 20  # the paper reports @20 only
PaperTable = Mapping[str, Mapping[str, Mapping[str, Mapping[str, float]]]]


def paper_rows(paper_table: PaperTable) -> pd.DataFrame:
    """The nested config mapping as a tidy frame: dataset, model, feature, metric, paper."""
    rows = [
        {"dataset": d, "model": m, "feature": f, "metric": metric, "paper": float(value)}
        for d, models in paper_table.items()
        for m, features in models.items()
        for f, metrics in features.items()
        for metric, value in metrics.items()
    ]
    return pd.DataFrame(rows, columns=["dataset", "model", "feature", "metric", "paper"])


def compare(tidy: pd.DataFrame, paper_table: PaperTable, metrics: Sequence[str]) -> pd.DataFrame:
    """Inner join of our @20 test values with the paper's; diff = ours - paper."""
    ours = tidy[(tidy["k"] == PAPER_K) & tidy["metric"].isin(metrics) & tidy["value"].notna()]
    ours = ours[["dataset", "model", "feature", "metric", "value", "std", "n_seeds"]]
    merged = ours.merge(paper_rows(paper_table), on=["dataset", "model", "feature", "metric"], how="inner")
    merged = merged.rename(columns={"value": "ours"})
    merged["diff"] = merged["ours"] - merged["paper"]
    merged["rel_diff"] = merged["diff"] / merged["paper"]
    return merged


def _best(frame: pd.DataFrame, column: str) -> str:
    top = frame.loc[frame[column].idxmax()]
    return feature_label(top["feature"])


PAPER_TITLE = "the paper's Table 2"


def _blocks(
    merged: pd.DataFrame,
    metrics: Sequence[str],
    datasets: Sequence[str],
    models: Sequence[str],
    reference: str = "paper",
) -> list[tuple[str, list[str], list[list[str]], list[str]]]:
    """(dataset, header, rows, notes) per dataset: ours / reference / difference per metric."""
    blocks = []
    for dataset in ordered(merged["dataset"], datasets):
        block = merged[merged["dataset"] == dataset]
        header = ["Model", "Feature"]
        for m in metrics:
            label = metric_label(m, PAPER_K)
            header += [f"{label} ours", f"{label} {reference}", f"{label} Δ"]
        rows, notes = [], []
        for model in ordered(block["model"], models):
            model_rows = block[block["model"] == model]
            for feature in feature_order(model_rows["feature"]):
                cells = [model_label(model), feature_label(feature)]
                for m in metrics:
                    hit = model_rows[(model_rows["feature"] == feature) & (model_rows["metric"] == m)]
                    if hit.empty:
                        cells += ["", "", ""]
                        continue
                    r = hit.iloc[0]
                    rel = "" if math.isnan(r["rel_diff"]) else f" ({r['rel_diff'] * 100:+.1f}%)"
                    cells += [f"{r['ours']:.4f}", f"{r['paper']:.4f}", f"{r['diff']:+.4f}{rel}"]
                rows.append(cells)
            primary = model_rows[model_rows["metric"] == metrics[0]]
            if len(primary) > 1:
                notes.append(
                    f"{model_label(model)}: best {metric_label(metrics[0], PAPER_K)} among the shared "
                    f"features — ours {_best(primary, 'ours')}, reference {_best(primary, 'paper')}; "
                    f"mean |Δ| {primary['diff'].abs().mean():.4f}."
                )
        blocks.append((dataset, header, rows, notes))
    return blocks


def _reference(title: str) -> str:
    """Column name of the reference values: `paper` for the paper's table, else `reference`."""
    return "paper" if title == PAPER_TITLE else "reference"


def _intro(tidy: pd.DataFrame, paper_table: PaperTable, merged: pd.DataFrame, title: str) -> str:
    if merged.empty:
        ours = sorted(set(tidy["dataset"]))
        theirs = sorted(paper_table)
        return (
            f"No cell of this run is in {title} (`report.paper_table`): this run has datasets "
            f"{ours or 'none'}, the reference table has {theirs or 'none'} (test, @{PAPER_K}). "
            "The demo's synthetic datasets are never comparable with the paper."
        )
    return (
        f"Reference: {title} (`report.paper_table`). Test set, @{PAPER_K}. Ours: mean over seeds; "
        "Δ = ours − reference (relative Δ in brackets). Only cells present in both tables are listed."
    )


@dataclass(frozen=True)
class _Comparison:
    """What both renderings (Markdown, HTML) show: our table merged with the reference's."""

    intro: str
    blocks: list[tuple[str, list[str], list[list[str]], list[str]]]
    title: str


def _comparison(
    tidy: pd.DataFrame,
    paper_table: PaperTable,
    metrics: Sequence[str],
    datasets: Sequence[str],
    models: Sequence[str],
    title: str,
) -> _Comparison:
    metrics = [m for m in metrics if m in {"recall", "ndcg", "precision"}]
    merged = compare(tidy, paper_table, metrics)
    blocks = list(_blocks(merged, metrics, datasets, models, _reference(title)))
    return _Comparison(_intro(tidy, paper_table, merged, title), blocks, title)


def render(comparison: _Comparison) -> str:
    """Markdown: one block per dataset with ours / paper / difference per metric."""
    lines = [f"# Our results next to {comparison.title}", "", comparison.intro]
    for dataset, header, rows, notes in comparison.blocks:
        lines += ["", f"## {dataset}", ""]
        lines += ["| " + " | ".join(header) + " |", "| --- | --- |" + " ---: |" * (len(header) - 2)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        if notes:
            lines += [""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def render_html(comparison: _Comparison) -> str:
    """The same comparison as a standalone HTML page (the Snakemake report shows it inline)."""
    esc = html.escape
    parts = [
        HTML_HEAD.replace("vlmrec comparison table", "vlmrec: ours next to the reference"),
        f"<h1>Our results next to {esc(comparison.title)}</h1>",
        f'<p class="legend">{esc(comparison.intro)}</p>',
    ]
    for dataset, header, rows, notes in comparison.blocks:
        parts.append(f'<h2>{esc(dataset)}</h2>\n<table class="vlmrec">')
        parts.append("<tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>")
        for row in rows:
            cells = [f"<td>{esc(c)}</td>" for c in row[:2]] + [
                f'<td class="value">{esc(c)}</td>' for c in row[2:]
            ]
            parts.append("<tr>" + "".join(cells) + "</tr>")
        parts.append("</table>")
        parts += [f'<p class="legend">{esc(note)}</p>' for note in notes]
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_paper_comparison(
    table_csv: str | Path,
    output: str | Path,
    paper_table: PaperTable,
    metrics: Sequence[str],
    datasets: Sequence[str] = (),
    models: Sequence[str] = (),
    title: str = PAPER_TITLE,
    html_output: str | Path | None = None,
) -> str:
    """paper_comparison.md (and, with `html_output`, the same as HTML); returns the Markdown."""
    comparison = _comparison(pd.read_csv(table_csv), paper_table, metrics, datasets, models, title)
    text = render(comparison)
    write_text(output, text)
    if html_output is not None:
        write_text(html_output, render_html(comparison))
    return text
