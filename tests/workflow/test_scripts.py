"""The one wrapper of every workflow script: the job's log gets its messages and, on failure, the
traceback (what Snakemake shows for a failed job, and what a cluster keeps)."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

import pytest
from workflow_helpers import REPO

from vlmrec.utils.logs import snakemake_job


def test_a_failing_script_leaves_its_traceback_in_the_job_log(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "rule" / "job.log"
    job = SimpleNamespace(log=[str(log)], rule="build_dataset")
    with pytest.raises(ValueError, match="bad split"), snakemake_job(job):
        logging.getLogger("vlmrec.test").info("starting")
        raise ValueError("bad split")
    text = log.read_text()
    assert "starting" in text and "rule build_dataset failed" in text
    assert "Traceback" in text and "ValueError: bad split" in text


def test_every_script_runs_inside_the_wrapper() -> None:
    scripts = sorted((REPO / "workflow" / "scripts").glob("*.py"))
    assert scripts
    bare = [p.name for p in scripts if "with snakemake_job(snakemake):" not in p.read_text()]
    assert not bare, f"scripts without the traceback-to-log wrapper: {bare}"
