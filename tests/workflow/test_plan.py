"""What `snakemake -n` decides before any job runs: bad configs refused in a line or two, nested
command-line overrides, logs and benchmarks under results_dir, and the promise that a new
strategy or model is one file plus one config entry (planned without importing torch)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from workflow_helpers import (
    REPO,
    dry_run,
    parse_dry_run,
    run_snakemake,
    small_demo_config,
    snakemake_env,
    write_yaml,
)


def _refusal(tmp_path: Path, config: dict, *args: str) -> str:
    """stdout+stderr of a dry run that must fail at plan time."""
    proc = run_snakemake(
        tmp_path, write_yaml(tmp_path / "bad.yaml", config), "-n", *args, timeout=300, check=False
    )
    assert proc.returncode != 0, proc.stdout[-3000:]
    return proc.stdout


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda c: c["models"]["freedom"]["grid"].update(dropuot=[0.5]), "models.freedom.grid.dropuot"),
        (lambda c: c["training"].update(valid_metric="recall@30"), "training.valid_metric: recall@30"),
        (lambda c: c["report"].update(baseline_feature="visuall"), "report.baseline_feature: 'visuall'"),
    ],
    ids=["grid-typo", "k-not-in-topk", "baseline-typo"],
)
def test_dry_run_refuses_a_bad_config_in_a_few_lines(tmp_path: Path, edit, expected: str) -> None:
    config = small_demo_config(strategies=["original", "visual"], models=["freedom"])
    edit(config)
    out = _refusal(tmp_path, config)
    assert expected in out, out[-2000:]
    assert len(out.strip().splitlines()) <= 3, out  # the message alone: no schema dump, no traceback
    assert "Traceback" not in out


def test_nested_command_line_override(tmp_path: Path) -> None:
    """`--config 'training={epochs: 5, ...}'` changes those keys and keeps the file's others."""
    snakefile = tmp_path / "Snakefile"
    snakefile.write_text(
        f'include: "{REPO}/workflow/rules/common.smk"\n'
        "import json\n"
        'with open("seen.json", "w") as handle:\n'
        '    json.dump(config["training"], handle)\n'
        "rule all:\n"
        "    default_target: True\n"
    )
    config = small_demo_config()
    configfile = write_yaml(tmp_path / "config.yaml", config)
    cmd = [sys.executable, "-m", "snakemake", "-s", str(snakefile), "-d", str(tmp_path)]
    cmd += [
        "--configfile",
        str(configfile),
        "-n",
        "--config",
        "training={epochs: 7, seeds: [1, 2], device: auto}",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=snakemake_env(), timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    seen = json.loads((tmp_path / "seen.json").read_text())
    assert seen["epochs"] == 7 and seen["seeds"] == [1, 2] and seen["device"] == "auto"
    assert seen["patience"] == config["training"]["patience"]  # untouched keys stay the file's
    assert seen["batch_size"] == config["training"]["batch_size"]


def test_every_job_logs_and_benchmarks_under_results_dir(tmp_path: Path) -> None:
    config = small_demo_config(strategies=["visual", "textual", "dual"], models=["freedom", "lightgcn"])
    config["results_dir"] = "out/run1"
    config["training"].update(device="auto", grid_jobs="separate")
    jobs = dry_run(tmp_path, write_yaml(tmp_path / "config.yaml", config))
    assert jobs
    for job in jobs:
        if job.rule == "all":
            continue
        log, benchmark = job.fields.get("log", ""), job.fields.get("benchmark", "")
        assert log.startswith(f"out/run1/logs/{job.rule}/") and log.endswith(".log"), job.describe()
        assert benchmark.startswith(f"out/run1/benchmarks/{job.rule}/") and benchmark.endswith(".tsv"), (
            job.describe()
        )
    # training.device: auto may use CUDA: every training job reserves the GPU
    training = [j for j in jobs if j.rule == "train_point"]
    assert training and all(j.resources.get("gpu") == "1" for j in training)


# -------------------------------------------------------------------- one file + one entry
TOY_STRATEGY = '''"""toy_strategy: a throwaway strategy (the textual features, copied)."""

from vlmrec.features.specs import StrategySpec

SPEC = StrategySpec(
    name="toy_strategy",
    modalities=("text",),
    encodes=False,
    description="a copy of the textual features",
    reuses=("textual",),
    needs_text=True,
)


def build(ctx):
    from vlmrec.features.manifest import load_feature_set
    from vlmrec.features.registry import BuildResult

    return BuildResult(load_feature_set(ctx.reused_dirs["textual"]), {})
'''
TOY_MODEL = '''"""toy_model: a throwaway ID-and-features model registered by its decorator alone."""

from typing import Any, ClassVar

from vlmrec.models.base import Recommender
from vlmrec.models.registry import register


@register("toy_model")
class ToyModel(Recommender):
    defaults: ClassVar[dict[str, Any]] = {"embedding_size": 8}
'''


def _copy_project(root: Path) -> Path:
    copy = root / "project"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".snakemake", "results")
    for name in ("src", "workflow", "config", "envs"):
        shutil.copytree(REPO / name, copy / name, ignore=ignore)
    shutil.copy2(REPO / "Snakefile", copy / "Snakefile")
    return copy


def test_a_new_strategy_and_model_are_one_file_and_one_config_entry_each(tmp_path: Path) -> None:
    copy = _copy_project(tmp_path)
    (copy / "src/vlmrec/features/strategies/toy_strategy.py").write_text(TOY_STRATEGY)
    (copy / "src/vlmrec/models/toy_model.py").write_text(TOY_MODEL)
    config = small_demo_config(strategies=["textual"], models=["lightgcn"], datasets=["demo_baby"])
    config["features"]["strategies"].append("toy_strategy")  # the strategy's one entry
    config["models"]["toy_model"] = {
        "params": {"embedding_size": 8},
        "grid": {"reg_weight": [0.0]},
    }  # the model's
    workdir = tmp_path / "run"
    workdir.mkdir()
    env = {**snakemake_env(), "PYTHONPATH": str(copy / "src")}  # the copy's vlmrec, not the installed one
    cmd = [sys.executable, "-X", "importtime", "-m", "snakemake", "-n", "--cores", "1"]
    cmd += [
        "-s",
        str(copy / "Snakefile"),
        "-d",
        str(workdir),
        "--configfile",
        str(write_yaml(tmp_path / "c.yaml", config)),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    jobs = parse_dry_run(proc.stdout)
    rules = {job.rule for job in jobs}
    assert "combine_toy_strategy" in rules, sorted(rules)
    trained = {(j.wildcards.get("model"), j.wildcards.get("feature")) for j in jobs if j.rule == "train_cell"}
    assert ("toy_model", "toy_strategy") in trained and ("toy_model", "textual") in trained, trained
    # Planning names and validates everything without importing torch (python -X importtime).
    imported = {
        line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")
    }
    assert "vlmrec.layout" in imported and "torch" not in imported, sorted(
        m for m in imported if "torch" in m
    )

    # The table code takes the new cells as they are (names it has never seen, no label to add).
    sys.path.insert(0, str(REPO / "tests" / "report"))
    from fake_cells import FakeRun, write_fake_run

    run = FakeRun(
        datasets=("demo_baby",),
        models={"toy_model": ("textual", "toy_strategy"), "lightgcn": ("id",)},
        shifts={"textual": 0.0, "toy_strategy": 0.02, "id": 0.0},
        manifests=False,
    )
    metrics = write_fake_run(workdir / "results", run)
    script = (
        "import sys; from pathlib import Path; from vlmrec.report.aggregate import AggregateOutputs, "
        "ReportSettings, aggregate; from vlmrec.report.table import TableOrder\n"
        "out = Path(sys.argv[1]); paths = sys.argv[2:]\n"
        "aggregate(paths, AggregateOutputs(csv=out / 'table.csv', md=out / 'table.md'), "
        "ReportSettings(baseline_feature='textual', bootstrap_samples=200), "
        "TableOrder(['demo_baby'], ['lightgcn', 'toy_model'], ['textual', 'toy_strategy', 'id']))\n"
    )
    table = subprocess.run(
        [sys.executable, "-c", script, str(workdir), *map(str, metrics)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert table.returncode == 0, table.stderr[-3000:]
    markdown = (workdir / "table.md").read_text()
    assert "toy" in markdown.lower(), markdown
    tidy = (workdir / "table.csv").read_text()
    assert "toy_strategy" in tidy and "toy_model" in tidy


def test_unknown_names_list_the_known_ones(tmp_path: Path) -> None:
    config = small_demo_config(strategies=["original"], models=["freedom"])
    config["models"]["freedm"] = config["models"].pop("freedom")
    config["features"]["strategies"].append("txtual")
    out = _refusal(tmp_path, config)
    assert "features.strategies: unknown strategy 'txtual' (did you mean textual?)" in out, out
