"""The side-by-side comparison with the paper's Table 2."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from vlmrec.report.aggregate import AggregateOutputs, ReportSettings, aggregate
from vlmrec.report.paper import compare, write_paper_comparison

PAPER = {
    "baby": {
        "freedom": {
            "original": {"recall": 0.0986, "ndcg": 0.0420, "precision": 0.0054},
            "visual": {"recall": 0.0762, "ndcg": 0.0329, "precision": 0.0043},
            "prompt1": {"recall": 0.0933, "ndcg": 0.0405, "precision": 0.0052},
        }
    }
}


@pytest.fixture
def table_csv(make_run, fake_run, tmp_path: Path) -> Path:
    _, paths = make_run(
        fake_run(datasets=("baby", "sports"), models={"freedom": ("original", "visual", "dual")})
    )
    outputs = AggregateOutputs(csv=tmp_path / "table.csv", md=tmp_path / "table.md")
    aggregate(paths, outputs, ReportSettings(bootstrap_samples=100))
    return outputs.csv


def test_only_shared_cells_with_difference(table_csv: Path) -> None:
    tidy = pd.read_csv(table_csv)
    merged = compare(tidy, PAPER, ["recall", "ndcg", "precision"])
    # prompt1 is only in the paper, dual and sports only in ours.
    assert set(merged["feature"]) == {"original", "visual"} and set(merged["dataset"]) == {"baby"}
    row = merged[(merged.feature == "visual") & (merged.metric == "recall")].iloc[0]
    ours = tidy[
        (tidy.dataset == "baby") & (tidy.feature == "visual") & (tidy.metric == "recall") & (tidy.k == 20)
    ]
    assert row["ours"] == pytest.approx(ours["value"].iloc[0])
    assert row["diff"] == pytest.approx(ours["value"].iloc[0] - 0.0762)


def test_markdown_lists_ours_paper_and_delta(table_csv: Path, tmp_path: Path) -> None:
    text = write_paper_comparison(table_csv, tmp_path / "pc.md", PAPER, ["recall", "ndcg", "precision"])
    assert (tmp_path / "pc.md").read_text() == text
    assert "| R@20 ours | R@20 paper | R@20 Δ |" in text
    assert "| FREEDOM | Visual |" in text and "0.0762" in text and "Prompt#1" not in text


def test_no_shared_cells_is_explained(table_csv: Path, tmp_path: Path) -> None:
    text = write_paper_comparison(table_csv, tmp_path / "pc.md", {}, ["recall"])
    assert "No cell of this run is in the paper's Table 2" in text
    assert "['baby', 'sports']" in text


def test_reference_title_and_html_page(table_csv: Path, tmp_path: Path) -> None:
    from headless import html_tables

    title = "a MADE-UP demo reference table"
    text = write_paper_comparison(
        table_csv,
        tmp_path / "pc.md",
        PAPER,
        ["recall", "ndcg"],
        title=title,
        html_output=tmp_path / "pc.html",
    )
    assert text.startswith(f"# Our results next to {title}") and f"Reference: {title}" in text
    tables = html_tables((tmp_path / "pc.html").read_text())
    assert tables[0][0][:4] == ["Model", "Feature", "R@20 ours", "R@20 reference"]  # not "paper"
    assert [row[:2] for row in tables[0][1:]] == [["FREEDOM", "Original"], ["FREEDOM", "Visual"]]
