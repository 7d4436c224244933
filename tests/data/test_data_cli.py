"""`python -m vlmrec <data step> --help` works, and the CLI runs the same library functions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from vlmrec.cli import main

STEPS = ["demo-data", "download", "download-images", "filter", "build-dataset"]


@pytest.mark.parametrize("step", STEPS)
def test_help(step: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([step, "--help"])
    assert info.value.code == 0
    assert "usage" in capsys.readouterr().out


def test_module_entry_point_lists_data_steps() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "vlmrec", "--help"], capture_output=True, text=True, check=True
    )
    assert all(step in out.stdout for step in STEPS)


def test_cli_pipeline_on_demo_data(tmp_path: Path) -> None:
    raw, out = tmp_path / "raw", tmp_path / "out"
    assert (
        main(["demo-data", "--out-dir", str(raw), "--n-users", "200", "--n-items", "60", "--seed", "4"]) == 0
    )
    assert (
        main(["download", f"file:{raw / 'ratings_Baby.csv'}", str(out / "ratings.csv"), "--retries", "0"])
        == 0
    )
    assert (
        main(
            [
                "filter",
                "--ratings",
                str(out / "ratings.csv"),
                "--meta",
                str(raw / "meta_Baby.json.gz"),
                "--out-interactions",
                str(out / "kcore.parquet"),
                "--out-items-meta",
                str(out / "meta.parquet"),
                "--max-bad-meta-fraction",
                "0.05",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "download-images",
                "--items-meta",
                str(out / "meta.parquet"),
                "--manifest",
                str(out / "images" / "manifest.parquet"),
                "--workers",
                "2",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "build-dataset",
                "--out-dir",
                str(out / "ds"),
                "--interim",
                str(out / "kcore.parquet"),
                "--items-meta",
                str(out / "meta.parquet"),
                "--manifest",
                str(out / "images" / "manifest.parquet"),
                "--split-method",
                "global_temporal",
            ]
        )
        == 0
    )
    assert set(pd.read_parquet(out / "ds" / "interactions.parquet")["split"]) == {"train", "valid", "test"}
    # Bad input: a clear error and exit status 1, not a traceback.
    assert main(["build-dataset", "--out-dir", str(out / "x"), "--source", "mmrec"]) == 1
