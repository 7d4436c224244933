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


# CI runs `make demo` before `make test` and sets this to its results/ folder: the tests that read
# a real demo run (README table, headless report) then fail instead of skipping when it is missing.
DEMO_RESULTS_ENV = "VLMREC_DEMO_RESULTS"
# Set in CI (where .ci/run installs Chromium): the headless report checks fail without a browser
# instead of falling back to the HTML parser.
REQUIRE_CHROMIUM_ENV = "VLMREC_REQUIRE_CHROMIUM"


@pytest.fixture(scope="session")
def demo_results() -> Path:
    """results/ of a finished `make demo` (table.md and report.html), or skip / fail (see above)."""
    import os

    root = Path(__file__).resolve().parents[2]
    configured = os.environ.get(DEMO_RESULTS_ENV)
    path = Path(configured) if configured else root / "results"
    path = path if path.is_absolute() else root / path
    ready = (path / "table.md").exists() and (path / "report.html").exists()
    if not ready and configured:
        pytest.fail(
            f"{DEMO_RESULTS_ENV}={configured}: {path} has no table.md/report.html (run `make demo` first)"
        )
    if not ready:
        pytest.skip(f"no demo run in {path} (run `make demo`, or set {DEMO_RESULTS_ENV})")
    return path


@pytest.fixture(scope="session")
def browser() -> str | None:
    """Chromium for the headless checks; None = use the HTML-parser fallback (unless required)."""
    import os

    from vlmrec.report.readme import find_browser

    found = find_browser()
    if found is None and os.environ.get(REQUIRE_CHROMIUM_ENV) == "1":
        pytest.fail(f"{REQUIRE_CHROMIUM_ENV}=1 but no chromium found (.ci/run installs it)")
    return found
