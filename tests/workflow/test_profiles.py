"""profiles/workstation and profiles/slurm: they load, name only real rules, and give every job of
the paper's experiment the resources docs/cluster.md promises (read from `snakemake --dry-run`,
which prints each job's evaluated resources)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from workflow_helpers import REPO, dry_run, load_yaml, local_rules, run_snakemake, write_yaml

from vlmrec.features.specs import known_strategy_names

PROFILES = REPO / "profiles"
PAPER_CONFIG = REPO / "config" / "config.yaml"
SITE_ENV = {"VLMREC_GPU_MODEL": "a100", "VLMREC_GPU_PARTITION": "gpuq", "VLMREC_SLURM_PARTITION": "cpuq"}


def profile(name: str) -> dict:
    return yaml.safe_load((PROFILES / name / "config.yaml").read_text())


def all_strategies_config(tmp_path: Path) -> Path:
    """The paper's config with every registered strategy, so every generated rule exists."""
    config = copy.deepcopy(load_yaml(PAPER_CONFIG))
    config["features"]["strategies"] = known_strategy_names(config["features"])
    return write_yaml(tmp_path / "all.yaml", config)


def workflow_rules(tmp_path: Path) -> set[str]:
    """Every rule some config can define: all strategies, both training job layouts."""
    rules: set[str] = set()
    separate = all_strategies_config(tmp_path)
    config = load_yaml(separate)
    config["training"]["grid_jobs"] = "separate" if config["training"]["grid_jobs"] == "single" else "single"
    for configfile in (separate, write_yaml(tmp_path / "other_layout.yaml", config)):
        proc = run_snakemake(tmp_path, configfile, "--list-rules", timeout=120)
        rules |= {line.split()[0] for line in proc.stdout.splitlines() if line and not line[0].isspace()}
    return rules


def test_slurm_profile_names_only_existing_rules(tmp_path: Path) -> None:
    rules = workflow_rules(tmp_path)
    unknown = sorted(set(profile("slurm")["set-resources"]) - rules)
    assert not unknown, f"profiles/slurm sets resources for rules that do not exist: {unknown}"


def test_slurm_profile_settings() -> None:
    slurm = profile("slurm")
    assert slurm["executor"] == "slurm"
    # Without accounting the plugin's default (sacct) hangs forever; see docs/cluster.md.
    assert slurm["slurm-status-command"] == "squeue"
    assert slurm["rerun-incomplete"] is True and slurm["retries"] >= 1
    assert int(slurm["jobs"]) >= 1 and int(slurm["latency-wait"]) >= 30


def test_workstation_profile_serialises_gpu_jobs() -> None:
    local = profile("workstation")
    assert local["resources"]["gpu"] == 1, "two GPU jobs would share one card"
    assert local["rerun-incomplete"] is True and local["retries"] >= 1


@pytest.fixture(scope="module")
def paper_plan(tmp_path_factory: pytest.TempPathFactory, monkeypatch_module) -> list:
    """Dry run of the paper's experiment under profiles/slurm with site settings in the env."""
    for key, value in SITE_ENV.items():
        monkeypatch_module.setenv(key, value)
    workdir = tmp_path_factory.mktemp("paper-slurm")
    return dry_run(workdir, PAPER_CONFIG, "--profile", str(PROFILES / "slurm"))


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_paper_plan_resources(paper_plan: list) -> None:
    """Every job is sized; every job that may use CUDA (encoders; training with `device: auto`)
    reserves a GPU placed by its own resources (partition, model), every other job goes to the
    CPU partition; the downloads run on the login node."""
    assert paper_plan, "the paper's experiment plans no job"
    gpu_jobs, local = set(), local_rules()
    for job in paper_plan:
        res = job.resources
        if job.rule == "all":
            continue
        assert int(res.get("mem_mb", 0)) >= 500 and int(res.get("runtime", 0)) >= 5, job.describe()
        if res.get("gpu"):
            gpu_jobs.add(job.rule)
            assert res.get("gpu") == "1", job.describe()
            assert res.get("gpu_model") == "a100", job.describe()
            assert res.get("slurm_partition") == "gpuq", job.describe()
        elif job.rule not in local:
            assert res.get("slurm_partition") == "cpuq", job.describe()
    encoded = {j.rule for j in paper_plan if j.rule.startswith("extract_")}
    assert encoded and encoded <= gpu_jobs, (encoded, gpu_jobs)
    assert "train_point" in gpu_jobs  # the paper's `training.device: auto` may use CUDA
    downloads = [j for j in paper_plan if j.rule.startswith("download_")]
    assert downloads and {j.rule for j in downloads} <= local, local


def test_workstation_profile_dry_run(tmp_path: Path) -> None:
    jobs = dry_run(tmp_path, REPO / "config" / "demo.yaml", "--profile", str(PROFILES / "workstation"))
    assert any(j.rule.startswith("extract_") for j in jobs)
