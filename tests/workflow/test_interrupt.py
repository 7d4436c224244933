"""Killing the workflow in the middle of a feature extraction loses only the unfinished shard:
`snakemake --rerun-incomplete` resumes from the finished shards, and the result equals an
uninterrupted extraction."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from workflow_helpers import DemoRun, results_dir, run_snakemake, snakemake_cmd, snakemake_env, write_yaml

pytestmark = pytest.mark.slow

STRATEGY = "prompt2"


def shard_files(shards_root: Path, ignore: frozenset[str] = frozenset()) -> dict[str, int]:
    """Finished shard files of the strategy -> mtime_ns (atomic writes: no partial shard shows),
    leaving out the cache folders in `ignore` (those of earlier runs)."""
    return {
        str(p.relative_to(shards_root)): p.stat().st_mtime_ns
        for p in shards_root.glob(f"{STRATEGY}-*/shard-*.npz")
        if p.parent.name not in ignore
    }


def kill_during_extraction(
    run: DemoRun, target: str, shards_root: Path, ignore: frozenset[str], timeout: float = 300
) -> dict[str, int]:
    """Start Snakemake, SIGKILL its whole process group once some (not all) shards are written."""
    proc = subprocess.Popen(
        snakemake_cmd(run.workdir, run.configfile, target, "--cores", "1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=snakemake_env(),
        cwd=run.workdir,
        start_new_session=True,  # its own process group: the kill reaches the job's python too
    )
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if len(shard_files(shards_root, ignore)) >= 2:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
                return shard_files(shards_root, ignore)
            time.sleep(0.01)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    pytest.fail(f"the extraction finished (rc {proc.returncode}) before it could be interrupted")


def test_killed_extraction_resumes_from_finished_shards(demo_copy: DemoRun) -> None:
    config = demo_copy.config
    dataset = next(iter(config["datasets"]))
    # A new prompt (so the shard cache starts empty) and small shards (so there are many).
    config["features"]["prompts"][STRATEGY] += " Interrupted."
    config["features"]["vlm2vec"].update({"shard_size": 4, "batch_size": 4})
    write_yaml(demo_copy.configfile, config)
    features = Path(results_dir(config)) / dataset / "features"
    shards_root = demo_copy.workdir / features / ".shards"
    target = str(features / STRATEGY / "manifest.json")

    earlier = frozenset(p.name for p in shards_root.glob(f"{STRATEGY}-*"))
    survived = kill_during_extraction(demo_copy, target, shards_root, earlier)
    assert survived, "no finished shard survived the kill"
    assert not (demo_copy.workdir / target).exists(), "the manifest exists although the job was killed"

    # The lock of the killed run stays behind; --rerun-incomplete reruns the interrupted job.
    run_snakemake(demo_copy.workdir, demo_copy.configfile, "--unlock")
    run_snakemake(demo_copy.workdir, demo_copy.configfile, target, "--cores", "1", "--rerun-incomplete")
    manifest = json.loads((demo_copy.workdir / target).read_text())
    after = shard_files(shards_root, earlier)
    for name, mtime in survived.items():
        assert after.get(name) == mtime, f"finished shard {name} was rewritten instead of reused"
    shards = next(iter(manifest["shards"].values()))
    assert shards["encoded"] == shards["total"] - len(survived), shards
    assert shards["encoded"] < shards["total"]
    resumed = {p.name: np.load(p) for p in (demo_copy.workdir / features / STRATEGY).glob("*.npy")}

    # Nothing lost: the same extraction from scratch gives the same matrix.
    for cache in shards_root.glob(f"{STRATEGY}-*"):
        if cache.name in earlier:
            continue
        shutil.rmtree(cache)
    run_snakemake(
        demo_copy.workdir, demo_copy.configfile, target, "--cores", "1", "--forcerun", f"extract_{STRATEGY}"
    )
    fresh = json.loads((demo_copy.workdir / target).read_text())
    assert next(iter(fresh["shards"].values()))["encoded"] == shards["total"]
    for name, matrix in resumed.items():
        np.testing.assert_array_equal(
            matrix, np.load(demo_copy.workdir / features / STRATEGY / name), err_msg=name
        )
