"""Fixtures for the report tests (the fake cells themselves are written by fake_cells.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_cells import FakeRun, write_fake_run


@pytest.fixture
def fake_run() -> type[FakeRun]:
    return FakeRun


@pytest.fixture
def make_run(tmp_path: Path):
    """Factory: make_run(FakeRun(...)) -> (results_dir, metrics paths)."""

    def factory(run: FakeRun | None = None, seed: int = 0) -> tuple[Path, list[Path]]:
        root = tmp_path / "results"
        return root, write_fake_run(root, run or FakeRun(), seed)

    return factory
