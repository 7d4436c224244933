"""The README's demo figures: the mechanism (fixture cells), and the README against a real demo run.

The last two tests read the results/ of `make demo` (CI: `.ci/run` runs it before the tests and
sets VLMREC_DEMO_RESULTS, so they fail rather than skip when it is missing; see conftest.py).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from headless import embedded_files, html_tables, rendered_report

from vlmrec.report.aggregate import AggregateOutputs, ReportSettings, aggregate
from vlmrec.report.html import merge_rule_graph, rule_graph_rules, tidy_report
from vlmrec.report.readme import BEGIN, END, readme_block, readme_table, replace_block, update_readme

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake_results(make_run, fake_run) -> Path:
    root, paths = make_run(fake_run(models={"freedom": ("original", "visual"), "lightgcn": ("id",)}))
    aggregate(
        paths,
        AggregateOutputs(csv=root / "table.csv", md=root / "table.md"),
        ReportSettings(bootstrap_samples=100),
    )
    return root


def test_readme_block_is_rewritten_from_table_md(fake_results: Path, tmp_path: Path) -> None:
    table = readme_table(fake_results)
    assert table.startswith("**baby**") and "\n**sports**\n" in table and "# Comparison table" not in table
    assert "| FREEDOM | Original |" in table and table.rstrip().endswith("alpha = 0.05.")
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n\n{BEGIN}\nold table\n{END}\n\nafter\n")
    assert update_readme(readme, fake_results) is True
    text = readme.read_text()
    assert readme_block(text) == table and text.startswith("intro\n\n") and text.endswith(f"{END}\n\nafter\n")
    assert update_readme(readme, fake_results) is False  # idempotent
    with pytest.raises(ValueError, match="markers"):
        replace_block("no markers here", table)


def _spec(rules: list[str], edges: list[tuple[int, int]]) -> dict:
    nodes = [{"rule": r, "fx": 10, "fy": 50 * i} for i, r in enumerate(rules)]
    links = [{"source": s, "target": t, "value": 1} for s, t in edges]
    return {"data": [{"name": "node-data", "values": nodes}, {"name": "link-data", "values": links},
                     {"name": "link-data-direct", "values": []}]}  # fmt: skip


def test_rule_graph_gets_one_node_per_rule() -> None:
    # Snakemake's layout: train_cell at three levels (after build, after extract, after combine).
    rules = ["build", "extract", "train_cell", "combine", "train_cell", "train_cell", "aggregate"]
    edges = [(0, 1), (0, 2), (1, 3), (1, 4), (3, 5), (2, 6), (4, 6), (5, 6)]
    spec = merge_rule_graph(_spec(rules, edges))
    nodes = spec["data"][0]["values"]
    names = [n["rule"] for n in nodes]
    assert sorted(names) == ["aggregate", "build", "combine", "extract", "train_cell"]
    assert names.index("train_cell") > names.index("combine")  # below everything it depends on
    links = spec["data"][1]["values"] + spec["data"][2]["values"]
    pairs = {(names[link["source"]], names[link["target"]]) for link in links}
    assert ("combine", "train_cell") in pairs and ("train_cell", "aggregate") in pairs
    assert ("build", "train_cell") in pairs and len(links) == len(pairs) == 6
    assert all(link["target"] - link["source"] == 1 for link in spec["data"][2]["values"])


def test_readme_table_equals_the_demo_run(demo_results: Path) -> None:
    """The README's demo table is the one `make demo` writes (regenerate: `make readme-figures`)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert readme_block(readme) == readme_table(demo_results), (
        "README demo table is stale: make readme-figures"
    )


def test_demo_report_opens_headless(demo_results: Path, browser: str | None, tmp_path: Path) -> None:
    """The demo's report.html: one rule-graph node per rule, front page from the config, HTML tables."""
    report = tmp_path / "report.html"
    report.write_bytes((demo_results / "report.html").read_bytes())
    tidy_report(report)  # a no-op when `make demo` has already run it
    counts = Counter(rule_graph_rules(report))
    assert counts["aggregate"] == 1 and max(counts.values()) == 1, counts
    html = report.read_text(encoding="utf-8")
    files = embedded_files(html)
    assert {"table.html", "significance.html", "paper_comparison.html"} <= set(files)
    assert "table.csv" not in files and "significance.csv" not in files  # no bare CSVs
    if browser is not None:
        text = rendered_report(report, browser)
        assert "results/table.html" in text and "Snakemake rule aggregate" in text
        assert "laid out like the paper's Table 2" in text
    else:  # no browser: check the static page as an HTML parser sees it
        tables = html_tables(files["table.html"].decode())
        assert tables and tables[0][0][:2] == ["Model", "Feature"] and len(tables[0]) > 3
    assert "per user at random" in workflow_description(html) and "80/10/10" not in workflow_description(html)


def workflow_description(html: str) -> str:
    """The front page (workflow.rst rendered to HTML), as the report embeds it: a JSON string."""
    return json.loads(html.split("var workflow_desc = ", 1)[1].split(";\n", 1)[0])
