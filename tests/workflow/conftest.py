"""One completed run of the (reduced) demo workflow, shared by every test in tests/workflow.

The run happens once per session in a temporary directory; a test that changes anything works on
its own copy (`demo_copy`), so the baseline stays pristine for the others (and for the SLURM test,
which compares its results with it)."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
from workflow_helpers import DemoRun, run_snakemake, small_demo_config, write_yaml

# The reduced demo: both demo datasets, the strategies the rerun tests need (Prompt#2, what dual
# derives from, and others that must stay untouched), a feature model and the ID-only model.
RERUN_STRATEGIES = ["original", "visual", "textual", "prompt1", "prompt2", "dual"]
RERUN_MODELS = ["freedom", "lightgcn"]


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """The reduced demo run to completion (a few minutes on 2 cores; once per session)."""
    folder = tmp_path_factory.mktemp("demo-baseline")
    config = small_demo_config(strategies=RERUN_STRATEGIES, models=RERUN_MODELS)
    run = DemoRun(folder / "run", write_yaml(folder / "config.yaml", config), config)
    run.workdir.mkdir()
    run_snakemake(run.workdir, run.configfile, "--cores", "2", timeout=1200)
    return run


@pytest.fixture
def demo_copy(demo_run: DemoRun, tmp_path: Path) -> DemoRun:
    """A private copy of the completed run (outputs, mtimes and .snakemake metadata preserved)."""
    workdir = tmp_path / "run"
    shutil.copytree(demo_run.workdir, workdir, symlinks=True)
    shutil.rmtree(workdir / ".snakemake" / "locks", ignore_errors=True)
    configfile = tmp_path / "config.yaml"
    shutil.copy2(demo_run.configfile, configfile)
    return DemoRun(workdir, configfile, copy.deepcopy(demo_run.config))
