"""The report stage as Snakemake runs it: rules, partial table, `snakemake --report`.

Uses a fixture Snakefile (tests/report/workflow/Snakefile) that includes the real common.smk and
report.smk over pre-made cells, so it needs neither data, features nor training.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from fake_cells import FakeRun, write_fake_run
from headless import embedded_files, html_tables, rendered_report

from vlmrec.report.html import rule_graph_rules, tidy_report

SNAKEFILE = Path(__file__).parent / "workflow" / "Snakefile"
CONFIG = {
    "results_dir": "results",
    "seed": 3,
    # Valid for config/schema.yaml (common.smk validates every workflow that includes it).
    "datasets": {
        name: {
            "source": "amazon2014",
            "category": name,
            "ratings_url": "file:r.csv",
            "meta_url": "file:m.json.gz",
        }
        for name in ("baby", "sports")
    },
    "preprocess": {},
    "split": {},
    "features": {"strategies": ["original", "visual", "textual", "dual"]},
    "training": {"seeds": [999, 1000], "select_on": "valid"},
    "models": {
        "freedom": {"features": True, "params": {}, "grid": {}},
        "lightgcn": {"features": False, "params": {}, "grid": {}},
    },
    "report": {
        "metrics": ["recall", "ndcg", "precision"],
        "k": [20],
        "baseline_feature": "original",
        "alpha": 0.05,
        "bootstrap_samples": 200,
        "paper_table": {
            "baby": {"freedom": {"original": {"recall": 0.0986, "ndcg": 0.042, "precision": 0.0054}}}
        },
    },
}


def snakemake_cmd(workdir: Path, *args: str) -> list[str]:
    """Snakemake on the fixture Snakefile with the working directory's config.yaml."""
    base = [sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "-d", str(workdir)]
    return [*base, "--configfile", str(workdir / "config.yaml"), *args]


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = snakemake_cmd(workdir, "--cores", "1", *args)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report_workflow")
    (root / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    write_fake_run(
        root / "results",
        FakeRun(models={"freedom": ("original", "visual", "textual", "dual"), "lightgcn": ("id",)}),
    )
    return root


@pytest.mark.slow
def test_workflow_builds_table_plots_and_report(workdir: Path) -> None:
    snakemake(workdir)
    results = workdir / "results"
    for name in (
        "table.csv",
        "table.md",
        "table.tex",
        "table.html",
        "significance.csv",
        "significance.html",
        "paper_comparison.md",
        "paper_comparison.html",
    ):
        assert (results / name).stat().st_size > 0, name
    for dataset in ("baby", "sports"):
        assert len(list((results / "plots" / dataset).glob("*.png"))) == 4
        assert len(list((results / "plots" / dataset).glob("*.svg"))) == 4
    assert "| FREEDOM | Original |" in (results / "paper_comparison.md").read_text()
    assert "Nothing to be done" in snakemake(workdir, "-n").stdout

    snakemake(workdir, "--report", str(workdir / "report.html"))
    html = (workdir / "report.html").read_text()
    files = embedded_files(html)
    # The comparison table is in the self-contained page, identical to the file the rule wrote;
    # every table is an HTML page (shown inline), no bare CSV.
    assert files["table.html"] == (results / "table.html").read_bytes()
    assert files["significance.html"] == (results / "significance.html").read_bytes()
    assert "paper_comparison.html" in files and not any(name.endswith(".csv") for name in files)
    assert "<details>" in files["table.html"].decode()  # table.csv's numbers, inline
    # One rule-graph node per rule once the page is tidied (make demo runs tidy-report).
    tidy_report(workdir / "report.html")
    rules = rule_graph_rules(workdir / "report.html")
    assert len(rules) == len(set(rules)) and {"aggregate", "plots", "paper_comparison"} <= set(rules)
    html = (workdir / "report.html").read_text()
    assert sum(name.endswith(".png") for name in files) >= 4
    table = files["table.html"].decode()
    assert "<b>" in table and 'data-dataset="baby"' in table and "ID only" in table
    # Captions and the workflow description are rendered into the page.
    assert "laid out like the paper" in html and "re-runs" in html
    assert "mailto:" not in html  # metric@k in captions is a literal, not an e-mail link


@pytest.mark.slow
def test_partial_table_uses_finished_cells_only(workdir: Path) -> None:
    dual = workdir / "results/sports/runs/freedom/dual"
    parked = workdir / "parked_dual"
    dual.rename(parked)
    try:
        # `aggregate` needs every cell; the partial table does not.
        dry = subprocess.run(
            snakemake_cmd(workdir, "-n", "--forcerun", "aggregate", "aggregate"),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert dry.returncode != 0 and "MissingInputException" in dry.stderr + dry.stdout
        snakemake(workdir, "partial_table")
        md = (workdir / "results/partial/table.md").read_text()
        assert "| Dual | pending | pending | pending |" in md
        assert "Nothing to be done" in snakemake(workdir, "-n", "partial_table").stdout
    finally:
        parked.rename(dual)
    # A newly finished cell changes the partial table's params: it reruns, now without pending rows.
    assert "Params have changed" in snakemake(workdir, "-n", "partial_table").stdout
    snakemake(workdir, "partial_table")
    assert "pending" not in (workdir / "results/partial/table.md").read_text()


@pytest.mark.slow
def test_report_renders_headless(workdir: Path, browser: str | None) -> None:
    """Open the report in headless Chromium and show the table's entry, as a click would; without
    a browser (and VLMREC_REQUIRE_CHROMIUM unset), parse the embedded table page instead."""
    if not (workdir / "report.html").exists():
        snakemake(workdir)
        snakemake(workdir, "--report", str(workdir / "report.html"))
    if browser is None:
        tables = html_tables(embedded_files((workdir / "report.html").read_text())["table.html"].decode())
        assert tables[0][0] == ["Model", "Feature", "R@20", "N@20", "P@20"] and len(tables[0]) == 6
        return
    text = rendered_report(workdir / "report.html", browser)
    # Rendered by the report's JS app (the raw file holds these strings only as JSON/JS data).
    assert "results/table.html" in text and "Snakemake rule aggregate" in text
    assert "table (paper layout)" in text and "laid out like the paper's Table 2" in text
