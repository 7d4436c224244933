"""The demo through a real (one-node, local) SLURM cluster with `--profile profiles/slurm`.

CI starts the cluster with `.ci/slurm_ci.sh up` (Debian's slurmctld/slurmd/munge, one count-only fake
GPU); this test skips with a message where no SLURM is running. It submits a small demo target (one
dataset, two feature sets, one model: data -> GPU-tagged extraction -> GPU-tagged training) because
the plugin's status polling costs ~10-14 s per DAG level; the data-stage rules are grouped into one
job for the same reason. It checks that every job went through sbatch (the plugin's per-job logs and
SLURM's own record of each job, GPU request included) and that the results equal the local run's."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import DemoRun
from workflow_helpers import REPO, results_dir, snakemake_cmd, snakemake_env, stage_rules

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

DATASET = "demo_baby"
STRATEGIES = ("visual", "textual")
MODEL = "freedom"
GPU_MODEL = "fake"  # the CI cluster's GRES type (gres.conf: Name=gpu Type=fake)


def slurm_skip_reason() -> str | None:
    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        return "SLURM is not installed here (CI starts a one-node cluster with `bash .ci/slurm_ci.sh up`)"
    try:
        proc = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"sinfo failed: {exc}"
    states = proc.stdout.split()
    if proc.returncode != 0 or not any(s in ("idle", "mix", "alloc") for s in states):
        return (
            f"no usable SLURM node (sinfo rc {proc.returncode}: {proc.stdout.strip()} {proc.stderr.strip()})"
        )
    return None


@pytest.fixture(scope="module")
def slurm_cluster() -> None:
    reason = slurm_skip_reason()
    if reason:
        pytest.skip(reason)


def targets(config: dict) -> list[str]:
    res = results_dir(config)
    return [f"{res}/{DATASET}/runs/{MODEL}/{s}/metrics.json" for s in STRATEGIES]


def slurm_job_ids(workdir: Path) -> dict[str, list[str]]:
    """rule (or group) -> SLURM job ids, from the plugin's per-job logs."""
    logs = workdir / ".snakemake" / "slurm_logs"
    ids: dict[str, list[str]] = {}
    for log in logs.rglob("*.log"):
        match = re.fullmatch(r"(\d+)\.log", log.name)
        if match:
            ids.setdefault(log.parent.name, []).append(match.group(1))
    return ids


def slurm_job_record(job_id: str) -> str:
    """SLURM's own record of a job: scontrol (kept MinJobAge=300 s), else sacct (accounting)."""
    proc = subprocess.run(
        ["scontrol", "show", "job", "-d", job_id], capture_output=True, text=True, timeout=20
    )
    if proc.returncode == 0:
        return proc.stdout
    proc = subprocess.run(
        ["sacct", "-X", "-n", "-P", "-j", job_id, "--format=JobID,State,AllocTRES,ReqTRES"],
        capture_output=True,
        text=True,
        timeout=20,
    )
    return proc.stdout


def test_demo_target_through_slurm(slurm_cluster: None, demo_run: DemoRun, tmp_path: Path) -> None:
    workdir = tmp_path / "run"
    workdir.mkdir()
    configfile = tmp_path / "config.yaml"
    shutil.copy2(demo_run.configfile, configfile)
    config = demo_run.config
    # Data-stage rules (and the tiny models) in one SLURM job: fewer DAG levels to poll.
    prep_rules = sorted(stage_rules("data") | {"build_tiny_models"})
    env = snakemake_env()
    env["VLMREC_GPU_MODEL"] = GPU_MODEL  # profiles/slurm turns it into sbatch --gpus=fake:1
    cmd = snakemake_cmd(
        workdir,
        configfile,
        *targets(config),
        "--profile",
        str(REPO / "profiles" / "slurm"),
        # The profile's 40 s first status check suits a busy cluster; this one answers at once.
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--groups",
        *[f"{rule}=prep" for rule in prep_rules],
        "--group-components",
        "prep=2",
        "--jobs",
        "4",
    )
    start = time.monotonic()
    proc = subprocess.run(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=workdir, timeout=900
    )
    elapsed = time.monotonic() - start
    assert proc.returncode == 0, f"SLURM run failed after {elapsed:.0f} s:\n{proc.stdout[-8000:]}"
    sys.stderr.write(f"SLURM demo target: {elapsed:.1f} s\n")

    # 1. Every job went through sbatch: the plugin logged one SLURM job per rule/group ...
    ids = slurm_job_ids(workdir)
    for strategy in STRATEGIES:
        assert f"rule_extract_{strategy}" in ids, f"extract_{strategy} was not submitted: {sorted(ids)}"
    train = [name for name in ids if name.startswith("rule_train")]
    assert train, f"no training job was submitted: {sorted(ids)}"
    assert any(name.startswith("group_prep") for name in ids), (
        f"the data group was not submitted: {sorted(ids)}"
    )
    # ... and SLURM itself ran each of them; GPU-tagged rules with their GPU request.
    gpu_rules = {f"rule_extract_{s}" for s in STRATEGIES} | set(train)
    for name, job_ids in ids.items():
        for job_id in job_ids:
            record = slurm_job_record(job_id)
            assert re.search(r"COMPLETED", record), f"{name} job {job_id} did not complete:\n{record}"
            if name in gpu_rules:
                assert re.search(rf"gpu:{GPU_MODEL}:1|gres/gpu[:=]", record), (
                    f"{name} {job_id} had no GPU:\n{record}"
                )

    # 2. The results equal the local run's (same config, same inputs).
    res = results_dir(config)
    for strategy in STRATEGIES:
        folder = Path(res) / DATASET / "features" / strategy
        for npy in sorted((demo_run.workdir / folder).glob("*.npy")):
            local = np.load(npy)
            remote = np.load(workdir / folder / npy.name)
            np.testing.assert_allclose(remote, local, rtol=1e-5, atol=1e-6, err_msg=str(folder / npy.name))
        cell = Path(res) / DATASET / "runs" / MODEL / strategy / "metrics.json"
        local_metrics = json.loads((demo_run.workdir / cell).read_text())
        remote_metrics = json.loads((workdir / cell).read_text())
        assert remote_metrics["status"] == local_metrics["status"] == "ok"
        assert remote_metrics["best_params"] == local_metrics["best_params"]
        for split in ("valid", "test"):
            for key, value in local_metrics[split].items():
                assert remote_metrics[split][key] == pytest.approx(value, rel=1e-6, abs=1e-9), (
                    cell,
                    split,
                    key,
                )
