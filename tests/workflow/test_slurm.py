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
from workflow_helpers import REPO, DemoRun, results_dir, snakemake_cmd, snakemake_env

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

DATASET = "demo_baby"
STRATEGY = "visual"
MODEL = "freedom"
GPU_MODEL = "fake"  # the CI cluster's GRES type (gres.conf: Name=gpu Type=fake)
SUBMITTED = re.compile(r"submitted with SLURM jobid (\d+) \(log: (\S+?)\)")


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


def slurm_jobs(output: str) -> dict[str, str]:
    """SLURM job id -> its log file, from Snakemake's "submitted with SLURM jobid" lines."""
    return {match.group(1): match.group(2) for match in SUBMITTED.finditer(output)}


def slurm_job_record(job_id: str) -> str:
    """SLURM's own record of a job: scontrol (kept MinJobAge=300 s), else sacct (accounting)."""
    proc = subprocess.run(
        ["scontrol", "show", "job", "-d", job_id], capture_output=True, text=True, timeout=20
    )
    if proc.returncode == 0:
        return proc.stdout
    proc = subprocess.run(
        ["sacct", "-X", "-n", "-P", "-j", job_id, "--format=JobID,JobName,State,AllocTRES"],
        capture_output=True,
        text=True,
        timeout=20,
    )
    return proc.stdout


def prepare_workdir(demo_run: DemoRun, tmp_path: Path) -> tuple[Path, Path, list[str]]:
    """A copy of the local run without one feature set (and its shard cache), the cell trained on
    it and its MMRec export: the SLURM run must recompute exactly that branch."""
    workdir = tmp_path / "run"
    shutil.copytree(demo_run.workdir, workdir, symlinks=True)
    shutil.rmtree(workdir / ".snakemake" / "locks", ignore_errors=True)
    res = workdir / results_dir(demo_run.config) / DATASET
    shutil.rmtree(res / "features" / STRATEGY)
    for cache in (res / "features" / ".shards").glob(f"{STRATEGY}-*"):
        shutil.rmtree(cache)
    shutil.rmtree(res / "runs" / MODEL / STRATEGY)
    shutil.rmtree(res / "mmrec" / STRATEGY)
    configfile = tmp_path / "config.yaml"
    shutil.copy2(demo_run.configfile, configfile)
    prefix = f"{results_dir(demo_run.config)}/{DATASET}"
    # The cell (GPU: extraction, then training) and the MMRec export (a CPU job beside training).
    targets = [f"{prefix}/runs/{MODEL}/{STRATEGY}/metrics.json", f"{prefix}/mmrec/{STRATEGY}/{DATASET}.inter"]
    return workdir, configfile, targets


def test_demo_target_through_slurm(slurm_cluster: None, demo_run: DemoRun, tmp_path: Path) -> None:
    workdir, configfile, targets = prepare_workdir(demo_run, tmp_path)
    env = snakemake_env()
    env["VLMREC_GPU_MODEL"] = GPU_MODEL  # profiles/slurm turns it into sbatch --gpus=fake:1
    # Torch threads as in the local run (vlmrec.utils.runtime.cpu_threads would otherwise take the
    # job's SLURM_CPUS_PER_TASK=8), so that the results can be compared bit for bit.
    env["SNAKEMAKE_THREADS"] = "1"
    cmd = snakemake_cmd(
        workdir,
        configfile,
        *targets,
        "--profile",
        str(REPO / "profiles" / "slurm"),
        # The profile's 40 s first status check suits a busy cluster; this one answers at once.
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--slurm-keep-successful-logs",
        # Training reserves a GPU when it may use CUDA (`auto`; the demo's `cpu` reserves none). On
        # the CPU-only CI node `auto` trains on the CPU: the results stay the local run's.
        "--config",
        "training={device: auto}",
    )
    start = time.monotonic()
    proc = subprocess.run(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=workdir, timeout=600
    )
    elapsed = time.monotonic() - start
    assert proc.returncode == 0, f"SLURM run failed after {elapsed:.0f} s:\n{proc.stdout[-8000:]}"
    sys.stderr.write(f"SLURM demo target: {elapsed:.1f} s\n")

    # 1. Every job went through sbatch: Snakemake submitted one SLURM job per rule, the plugin
    # kept each job's log, and SLURM's own record shows it completed with its GPU.
    jobs = slurm_jobs(proc.stdout)
    rules = {
        part for log in jobs.values() for part in Path(log).parts if part.startswith(("rule_", "group_"))
    }
    assert f"rule_extract_{STRATEGY}" in rules, f"extraction not submitted: {rules}\n{proc.stdout[-4000:]}"
    assert any(r.startswith("rule_train") for r in rules), f"training not submitted: {rules}"
    assert "rule_export_mmrec" in rules, f"the export was not submitted: {rules}"
    assert "Finished jobid" in proc.stdout
    gpu_request = re.compile(rf"gpu:{GPU_MODEL}:1|gres/gpu(:{GPU_MODEL})?=1")
    for job_id, log in jobs.items():
        assert Path(log).exists(), f"no SLURM log for job {job_id}: {log}"
        record = slurm_job_record(job_id)
        assert "COMPLETED" in record, f"SLURM job {job_id} did not complete:\n{record}"
        # Extraction and training are GPU-tagged: the request reached SLURM with the GPU model;
        # the export is a CPU job and holds no GPU.
        if "rule_export_mmrec" in Path(log).parts:
            assert not gpu_request.search(record) and "gpu" not in record.lower(), f"job {job_id}:\n{record}"
        else:
            assert gpu_request.search(record), f"job {job_id} without its GPU:\n{record}"

    # 2. The results equal the local run's bit for bit (same config, inputs, seeds and threads).
    res = Path(results_dir(demo_run.config)) / DATASET
    local_dir = demo_run.workdir / res / "features" / STRATEGY
    matrices = sorted(local_dir.glob("*.npy"))
    assert matrices
    for npy in matrices:
        remote = np.load(workdir / res / "features" / STRATEGY / npy.name)
        np.testing.assert_array_equal(remote, np.load(npy), err_msg=npy.name)
    cell = res / "runs" / MODEL / STRATEGY / "metrics.json"
    local_metrics = json.loads((demo_run.workdir / cell).read_text())
    remote_metrics = json.loads((workdir / cell).read_text())
    assert remote_metrics["status"] == local_metrics["status"] == "ok"
    assert remote_metrics["best_params"] == local_metrics["best_params"]
    for split in ("valid", "test"):
        assert remote_metrics[split] == local_metrics[split], (cell, split)
