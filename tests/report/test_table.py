"""Table layout, bolding, relative change and marks on a fixture of cell directories."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from vlmrec.report.aggregate import AggregateOutputs, ReportSettings, aggregate
from vlmrec.report.cells import load_cell, load_cells
from vlmrec.report.table import TableOrder

SETTINGS = ReportSettings(bootstrap_samples=200, seed=1)
ORDER = TableOrder(datasets=["sports", "baby"], models=["freedom", "lightgcn"])


def _outputs(root: Path) -> AggregateOutputs:
    return AggregateOutputs(
        csv=root / "table.csv",
        md=root / "table.md",
        tex=root / "table.tex",
        html=root / "table.html",
        significance=root / "significance.csv",
        significance_html=root / "significance.html",
    )


def _md_block(md: str, dataset: str) -> list[list[str]]:
    """Rows (as cell lists) of one dataset's Markdown table."""
    block = md.split(f"## {dataset}\n")[1].strip("\n").split("\n\n")[0]
    lines = [line for line in block.splitlines() if line.startswith("|")][2:]
    return [[c.strip() for c in line.strip("|").split("|")] for line in lines]


@pytest.fixture
def built(make_run, fake_run, tmp_path: Path):
    run = fake_run(
        models={
            "freedom": ("dual", "textual", "original", "visual", "dual_concat", "mmrec_original"),
            "lightgcn": ("id",),
        },
        shifts={
            "original": 0.0,
            "visual": -0.05,
            "textual": 0.01,
            "dual": 0.04,
            "dual_concat": 0.02,
            "mmrec_original": -0.01,
            "id": 0.0,
        },
    )
    root, paths = make_run(run)
    tidy = aggregate(paths, _outputs(tmp_path), SETTINGS, ORDER)
    return tidy, paths, tmp_path


def test_layout_follows_paper_order(built) -> None:
    _, _, out = built
    md = (out / "table.md").read_text()
    assert md.index("## sports") < md.index("## baby")  # config order of datasets
    header = next(line for line in md.splitlines() if line.startswith("| Model"))
    assert header == "| Model | Feature | R@20 | N@20 | P@20 |"
    rows = _md_block(md, "baby")
    assert [r[1] for r in rows] == [
        "Original",
        "Visual",
        "Textual",
        "Dual",
        "Dual-concat",
        "MMRec-original",
        "ID only",
    ]
    # The model name appears once per block, on its first row.
    assert [r[0] for r in rows] == ["FREEDOM", "", "", "", "", "", "LightGCN"]


def test_bold_marks_best_of_each_block_and_metric(built) -> None:
    tidy, paths, out = built
    cells = {c.key: c for c in load_cells(paths)}
    md = (out / "table.md").read_text()
    for dataset in ("baby", "sports"):
        rows = _md_block(md, dataset)
        features = ["original", "visual", "textual", "dual", "dual_concat", "mmrec_original"]
        for col, key in enumerate(["recall@20", "ndcg@20", "precision@20"], start=2):
            values = {f: cells[(dataset, "freedom", f)].value(key) for f in features}
            best = max(values, key=values.get)
            bold = [features[i] for i, r in enumerate(rows[:6]) if r[col].startswith("**")]
            assert bold == [best]
        assert not rows[6][2].startswith("**")  # a block of one row (LightGCN) has no "best"
    assert tidy["is_best"].sum() == 2 * 3


def test_values_std_and_relative_change(built) -> None:
    tidy, paths, _ = built
    cell = load_cell(next(p for p in paths if "baby/runs/freedom/visual" in str(p)))
    base = load_cell(next(p for p in paths if "baby/runs/freedom/original" in str(p)))
    row = tidy[(tidy.dataset == "baby") & (tidy.feature == "visual") & (tidy.metric == "recall")].iloc[0]
    assert row["value"] == pytest.approx(cell.value("recall@20"))
    assert row["std"] == pytest.approx(cell.std("recall@20"))
    expected_rel = (cell.value("recall@20") - base.value("recall@20")) / base.value("recall@20")
    assert row["rel_change"] == pytest.approx(expected_rel)
    assert row["n_seeds"] == 2 and json.loads(row["best_params"]) == cell.best_params
    assert row["best_epoch"] == pytest.approx(cell.best_epoch)
    text = f"{cell.value('recall@20'):.4f} ± {cell.std('recall@20'):.4f} ({expected_rel * 100:+.1f}%)"
    md = (_outputs(built[2]).md).read_text()
    assert text in md


def test_marks_follow_significance_csv(built) -> None:
    tidy, _, out = built
    sig = pd.read_csv(out / "significance.csv")
    md_rows = _md_block((out / "table.md").read_text(), "baby")
    labels = {"original": 0, "visual": 1, "textual": 2, "dual": 3, "dual_concat": 4, "mmrec_original": 5}
    recall = sig[(sig.dataset == "baby") & (sig.metric == "recall")]
    for feature, i in labels.items():
        vs_base = recall[(recall.feature == feature) & (recall.comparison == "vs_baseline")]
        vs_best = recall[(recall.feature == feature) & (recall.comparison == "vs_best")]
        cell = md_rows[i][2]
        assert ("†" in cell) == bool(len(vs_base) and vs_base.significant.iloc[0])
        assert ("‡" in cell) == bool(len(vs_best) and vs_best.significant.iloc[0])
    # The fixture's visual shift is large: it must be marked against Original.
    assert "†" in md_rows[1][2]


def test_single_seed_has_no_std(make_run, fake_run, tmp_path: Path) -> None:
    run = fake_run(datasets=("baby",), models={"freedom": ("original", "textual")}, seeds=(7,))
    _, paths = make_run(run)
    aggregate(paths, _outputs(tmp_path), SETTINGS, ORDER)
    rows = _md_block((tmp_path / "table.md").read_text(), "baby")
    assert all("±" not in c for r in rows for c in r[2:])
    assert re.fullmatch(r"(\*\*)?0\.\d{4}(\*\*)?", rows[0][2])


def test_configurable_metrics_and_k(built, tmp_path: Path) -> None:
    _, paths, _ = built
    settings = ReportSettings(metrics=("ndcg",), k=(10, 20), bootstrap_samples=100)
    tidy = aggregate(paths, _outputs(tmp_path / "x"), settings, ORDER)
    header = next(
        line for line in (tmp_path / "x/table.md").read_text().splitlines() if line.startswith("| M")
    )
    assert header == "| Model | Feature | N@10 | N@20 |"
    assert set(zip(tidy.metric, tidy.k)) == {("ndcg", 10), ("ndcg", 20)}


def test_latex_and_html_carry_the_same_table(built) -> None:
    _, _, out = built
    tex = (out / "table.tex").read_text()
    assert tex.count(r"\textbf{") == 6 and r"\multicolumn{5}{l}{\textit{baby}}" in tex
    assert "MMRec-original" in tex and r"\dagger" in tex and r"\bottomrule" in tex
    rows = [line for line in tex.splitlines() if line.endswith("\\\\") and "multicolumn" not in line]
    assert len(rows) == 1 + 2 * 7 and all(line.count("&") == 4 for line in rows)  # 5 columns per row
    html = (out / "table.html").read_text()
    assert html.count("<b>") == 6 and 'data-dataset="baby"' in html


def test_failed_and_missing_cells(make_run, fake_run, tmp_path: Path) -> None:
    run = fake_run(
        datasets=("baby",),
        models={"freedom": ("original", "visual", "textual")},
        failed=(("baby", "freedom", "visual"),),
    )
    _, paths = make_run(run)
    tidy = aggregate(paths, _outputs(tmp_path), SETTINGS, ORDER, missing=[("baby", "freedom", "dual")])
    rows = _md_block((tmp_path / "table.md").read_text(), "baby")
    assert [r[1] for r in rows] == ["Original", "Visual", "Textual", "Dual"]
    assert rows[1][2] == "– (failed)" and rows[3][2] == "pending"
    assert set(tidy.loc[tidy.feature == "dual", "status"]) == {"missing"}


def test_bad_metrics_file_names_file(tmp_path: Path) -> None:
    bad = tmp_path / "metrics.json"
    bad.write_text('{"dataset": "baby", "model": "freedom"}')
    with pytest.raises(ValueError, match=r"metrics.json lacks key\(s\) \['feature', 'test'\]"):
        load_cell(bad)
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="metrics.json: not valid JSON"):
        load_cell(bad)


def test_duplicate_cell_is_an_error(make_run, fake_run, tmp_path: Path) -> None:
    _, paths = make_run(fake_run(datasets=("baby",), models={"freedom": ("original",)}, seeds=(1,)))
    copy = tmp_path / "copy" / "metrics.json"
    copy.parent.mkdir()
    copy.write_text(paths[0].read_text())
    with pytest.raises(ValueError, match="already loaded"):
        load_cells([paths[0], copy])


def test_latex_is_a_threeparttable_with_the_legend_as_note(built) -> None:
    _, _, out = built
    tex = (out / "table.tex").read_text()
    body = [line for line in tex.splitlines() if not line.startswith("%")]
    # Balanced environments in the right nesting: threeparttable > tabular, then tablenotes.
    envs = re.findall(r"\\(begin|end)\{(\w+)\}", "\n".join(body))
    assert envs == [
        ("begin", "threeparttable"),
        ("begin", "tabular"),
        ("end", "tabular"),
        ("begin", "tablenotes"),
        ("end", "tablenotes"),
        ("end", "threeparttable"),
    ]
    note = tex.split("\\begin{tablenotes}")[1].split("\\end{tablenotes}")[0]
    assert "\\item Test set; mean over 2 seed(s)" in note and "$^{\\dagger}$" in note
    assert "\\begin{table}" not in "\n".join(body)  # ready to \\input inside the user's own float
    # Every row of the tabular has the same number of columns as its spec.
    n_cols = len(re.search(r"\\begin\{tabular\}\{(\w+)\}", tex).group(1))
    rows = [line for line in body if line.endswith(r"\\") and "multicolumn" not in line]
    assert rows and all(line.count("&") == n_cols - 1 for line in rows)


def test_significance_and_tidy_table_as_html(built) -> None:
    from headless import html_tables

    tidy, _, out = built
    sig = pd.read_csv(out / "significance.csv")
    tables = html_tables((out / "significance.html").read_text())
    assert len(tables) == 1 and tables[0][0] == list(sig.columns) and len(tables[0]) == len(sig) + 1
    page = html_tables((out / "table.html").read_text())
    assert len(page) == 3  # two datasets in paper layout + the tidy form
    assert page[2][0] == list(tidy.columns) and len(page[2]) == len(tidy) + 1
