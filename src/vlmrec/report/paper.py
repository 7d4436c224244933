"""Our table next to the paper's Table 2 (config `report.paper_table`), for the cells both have."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from vlmrec.report.labels import feature_label, feature_order, metric_label, model_label, ordered
from vlmrec.report.table import write_text

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


def render(
    tidy: pd.DataFrame,
    paper_table: PaperTable,
    metrics: Sequence[str],
    datasets: Sequence[str] = (),
    models: Sequence[str] = (),
) -> str:
    """Markdown: one block per dataset with ours / paper / difference per metric."""
    lines = ["# Our results next to the paper's Table 2", ""]
    metrics = [m for m in metrics if m in {"recall", "ndcg", "precision"}]
    merged = compare(tidy, paper_table, metrics)
    if merged.empty:
        ours = sorted(set(tidy["dataset"]))
        theirs = sorted(paper_table)
        lines.append(
            f"No cell of this run is in the paper's Table 2 (`report.paper_table`): this run has datasets "
            f"{ours or 'none'}, the paper table has {theirs or 'none'} (test, @{PAPER_K}). "
            "The demo's synthetic datasets are never comparable with the paper."
        )
        return "\n".join(lines) + "\n"
    lines.append(
        f"Test set, @{PAPER_K}. Ours: mean over seeds; Δ = ours − paper (relative Δ in brackets). "
        "Only cells present in both tables are listed."
    )
    for dataset in ordered(merged["dataset"], datasets):
        block = merged[merged["dataset"] == dataset]
        lines += ["", f"## {dataset}", ""]
        header = ["Model", "Feature"]
        for m in metrics:
            label = metric_label(m, PAPER_K)
            header += [f"{label} ours", f"{label} paper", f"{label} Δ"]
        lines += ["| " + " | ".join(header) + " |", "| --- | --- |" + " ---: |" * (3 * len(metrics))]
        notes = []
        for model in ordered(block["model"], models):
            rows = block[block["model"] == model]
            for feature in feature_order(rows["feature"]):
                cells = [model_label(model), feature_label(feature)]
                for m in metrics:
                    hit = rows[(rows["feature"] == feature) & (rows["metric"] == m)]
                    if hit.empty:
                        cells += ["", "", ""]
                        continue
                    r = hit.iloc[0]
                    rel = "" if math.isnan(r["rel_diff"]) else f" ({r['rel_diff'] * 100:+.1f}%)"
                    cells += [f"{r['ours']:.4f}", f"{r['paper']:.4f}", f"{r['diff']:+.4f}{rel}"]
                lines.append("| " + " | ".join(cells) + " |")
            primary = rows[rows["metric"] == metrics[0]]
            if len(primary) > 1:
                notes.append(
                    f"- {model_label(model)}: best {metric_label(metrics[0], PAPER_K)} among the shared "
                    f"features — ours {_best(primary, 'ours')}, paper {_best(primary, 'paper')}; "
                    f"mean |Δ| {primary['diff'].abs().mean():.4f}."
                )
        if notes:
            lines += [""] + notes
    return "\n".join(lines) + "\n"


def write_paper_comparison(
    table_csv: str | Path,
    output: str | Path,
    paper_table: PaperTable,
    metrics: Sequence[str],
    datasets: Sequence[str] = (),
    models: Sequence[str] = (),
) -> str:
    tidy = pd.read_csv(table_csv)
    text = render(tidy, paper_table, metrics, datasets, models)
    write_text(output, text)
    return text
