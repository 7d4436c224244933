"""`snakemake --lint` and `snakefmt --check` are clean (the brief's standard; CI runs this file)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from workflow_helpers import REPO, snakemake_cmd

BIN = Path(sys.executable).parent


def test_snakefmt_check_clean() -> None:
    files = [REPO / "Snakefile", REPO / "workflow" / "rules"]
    proc = subprocess.run(
        [str(BIN / "snakefmt"), "--check", *map(str, files)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"snakefmt --check would reformat (run `make format`):\n{proc.stdout}"


def _lint(configfile: Path, workdir: Path) -> subprocess.CompletedProcess[str]:
    # Lints go to stderr, Snakemake's own log to stdout: merge them for the message.
    return subprocess.run(
        snakemake_cmd(workdir, configfile, "--lint"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )


def test_snakemake_lint_clean_demo(tmp_path: Path) -> None:
    proc = _lint(REPO / "config" / "demo.yaml", tmp_path)
    assert proc.returncode == 0, f"snakemake --lint reports problems:\n{proc.stdout[-6000:]}"
    assert "Lints for" not in proc.stdout


def test_snakemake_lint_clean_paper_config(tmp_path: Path) -> None:
    """The paper's config takes other branches (downloads, separate grid jobs): lint it too."""
    proc = _lint(REPO / "config" / "config.yaml", tmp_path)
    assert proc.returncode == 0, f"snakemake --lint reports problems:\n{proc.stdout[-6000:]}"
    assert "Lints for" not in proc.stdout
