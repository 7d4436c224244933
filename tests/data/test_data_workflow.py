"""End to end: the data stage of the demo config through Snakemake, in a temporary directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
TARGETS = [
    "results/demo_baby/items.parquet",
    "results/demo_sports/items.parquet",
    "results/demo_baby/raw/image_features.b",
]


def snakemake(workdir: Path, *args: str, configfile: Path | None = None) -> subprocess.CompletedProcess[str]:
    configfile = configfile or REPO / "config" / "demo.yaml"
    command = [
        str(SNAKEMAKE),
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(workdir),
        "--configfile",
        str(configfile),
        "--cores",
        "2",
        *args,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)


@pytest.mark.slow
def test_demo_data_stage(tmp_path: Path) -> None:
    run = snakemake(tmp_path, *TARGETS)
    assert run.returncode == 0, run.stderr[-3000:]
    for dataset in ("demo_baby", "demo_sports"):
        stats = json.loads((tmp_path / "results" / dataset / "stats.json").read_text())
        items = pd.read_parquet(tmp_path / "results" / dataset / "items.parquet")
        assert stats["items"] == len(items) and stats["users"] > 1000
        assert 0 < stats["missing_images"] < 0.05 * stats["items"]
        log = (tmp_path / "results" / "logs" / "filter_interactions" / f"{dataset}.log").read_text()
        assert "malformed amazon2014 meta line skipped" in log and "meta.json.gz:" in log
        manifest = pd.read_parquet(tmp_path / "results" / dataset / "images" / "manifest.parquet")
        assert {"ok", "corrupt", "network_error", "missing_url"} <= set(manifest["status"])
    assert (tmp_path / "results" / "demo_baby" / "raw" / "image_features.b.sha256.json").exists()

    # Cached: nothing to do on a second run; a changed split seed reruns build_dataset only.
    again = snakemake(tmp_path, "-n", *TARGETS)
    assert "Nothing to be done" in again.stdout + again.stderr
    config = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    config["split"]["seed"] = 1
    configfile = tmp_path / "changed.yaml"
    configfile.write_text(yaml.safe_dump(config))
    changed = snakemake(tmp_path, "-n", *TARGETS, configfile=configfile)
    text = changed.stdout + changed.stderr
    assert "build_dataset" in text and "filter_interactions" not in text and "download_images" not in text
