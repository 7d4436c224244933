"""`python -m vlmrec aggregate | plots | paper-comparison` on fixture cells."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from fake_cells import FakeRun, write_fake_run

from vlmrec.cli import main
from vlmrec.config import load_config
from vlmrec.layout import cells


@pytest.fixture
def demo_like(tmp_path: Path, repo_root: Path) -> tuple[Path, Path]:
    """Two finished cells of the demo config's experiment; the others are pending."""
    run = FakeRun(datasets=("demo_baby",), models={"freedom": ("original", "visual"), "lightgcn": ("id",)})
    write_fake_run(tmp_path / "results", run)
    return tmp_path / "results", repo_root / "config" / "demo.yaml"


def test_partial_aggregate_lists_pending_cells(demo_like, capsys: pytest.CaptureFixture) -> None:
    results, config = demo_like
    assert main(["aggregate", "--config", str(config), "--results-dir", str(results), "--partial"]) == 0
    tidy = pd.read_csv(results / "partial_cli" / "table.csv")
    finished = tidy[tidy.status == "ok"][["dataset", "model", "feature"]].drop_duplicates()
    assert len(finished) == 3
    # Every other cell of demo.yaml's experiment (vlmrec.layout.cells) is listed as pending.
    n_cells = len(cells(load_config(config)))
    pending = tidy[tidy.status == "missing"][["dataset", "model", "feature"]].drop_duplicates()
    assert n_cells > 3 and len(pending) == n_cells - 3
    assert f"{n_cells - 3} pending" in capsys.readouterr().out
    assert (results / "partial_cli" / "significance.csv").exists()


def test_plots_and_paper_comparison_commands(demo_like) -> None:
    results, config = demo_like
    common = ["--config", str(config), "--results-dir", str(results)]
    assert main(["aggregate", *common]) == 0
    assert main(["plots", *common, "--dataset", "demo_baby"]) == 0
    assert sorted(p.name for p in (results / "plots" / "demo_baby").glob("*.png")) == [
        "bars.png", "cost.png", "curves.png", "dims.png",
    ]  # fmt: skip
    assert main(["paper-comparison", *common]) == 0
    text = (results / "paper_comparison.md").read_text()
    # demo.yaml's reference table is a made-up format example, and the page says so.
    assert text.startswith("# Our results next to a MADE-UP demo reference table")
    assert "| FREEDOM | Original |" in text and "0.3600" in text


def test_no_cells_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["aggregate", "--results-dir", str(tmp_path)]) == 1
    assert "no finished cells" in capsys.readouterr().err
