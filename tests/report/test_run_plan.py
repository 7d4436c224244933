"""run_plan.md from benchmark files, folders and curves: per-rule figures and the real-run estimate."""

from __future__ import annotations

import math
from pathlib import Path

import yaml

from vlmrec.report.run_plan import Assumptions, extraction_hours, paper_jobs, read_benchmarks, write_run_plan

REPO = Path(__file__).resolve().parents[2]
HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def _bench(results: Path, rule: str, job: str, seconds: float, rss: float) -> None:
    path = results / "benchmarks" / rule / f"{job}.tsv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + f"{seconds}\t0:00:01\t{rss}\t1\t1\t1\t0\t0\t50\t1\n")


def test_run_plan_figures(tmp_path: Path) -> None:
    results = tmp_path / "results"
    _bench(results, "download_ratings", "ds", 2.0, 30.5)
    _bench(results, "train_point", "ds/freedom/textual/p1", 10.0, 400.0)
    _bench(results, "train_point", "ds/freedom/visual/p1", 30.0, 500.0)
    _bench(results, "extract_textual", "ds", 7.0, 900.0)
    curve = results / "ds" / "runs" / "freedom" / "textual" / "points" / "p1.curve.csv"
    curve.parent.mkdir(parents=True)
    curve.write_text("seed,epoch,loss,lr,seconds\n999,0,1.0,0.001,4.0\n999,1,0.9,0.001,6.0\n")
    (results / "ds" / "raw").mkdir()
    (results / "ds" / "raw" / "ratings.csv").write_bytes(b"x" * 2048)

    bench = read_benchmarks(results)
    assert sorted(bench["rule"]) == ["download_ratings", "extract_textual", "train_point", "train_point"]
    paper = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    text = write_run_plan(
        tmp_path / "run_plan.md", results, ["ds"], paper, {"scale": "test"}, run_interactions=160792
    )
    assert "| train_point | train | 2 | 40.0 | 20.0 | 30.0 | 500 |" in text
    assert "| data | 1 | 2.0 | 30 |" in text and "| data | 2.0 KB |" in text
    assert "measured in this run" in text and "freedom 5.00 s" in text  # mean s/epoch of the curve
    assert (tmp_path / "run_plan.md").read_text() == text
    small = write_run_plan(tmp_path / "small.md", results, ["ds"], paper, {}, run_interactions=8000)
    assert "too small to extrapolate" in small and "freedom 6.32 s" in small


def test_estimate_counts_the_paper_grid() -> None:
    paper = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    jobs = paper_jobs(paper)
    n_strategies = len(paper["features"]["strategies"])
    assert jobs["freedom"] == 8 * n_strategies * len(paper["training"]["seeds"])  # 2 dropouts x 4 reg
    grid = paper["models"]["lightgcn"]["grid"]
    assert jobs["lightgcn"] == math.prod(len(v) for v in grid.values()) * len(paper["training"]["seeds"])
    hours, n = extraction_hours(["textual", "dual"], 3600, Assumptions(job_overhead_s=0.0))
    assert n == 1 and abs(hours - 3600 / 100 / 3600) < 1e-12  # dual only combines finished sets
