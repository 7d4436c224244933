"""Running the real workflow from tests: Snakemake in a temporary working directory, and parsers
for what a dry run plans (one `PlannedJob` per job block of `snakemake --dry-run`)."""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
SNAKEFILE = REPO / "Snakefile"
DEMO_CONFIG = REPO / "config" / "demo.yaml"

# Strategies computed from other strategies' files (issue 3: dual/dual_concat reuse visual+textual).
DERIVED_FROM = {"dual": {"visual", "textual"}, "dual_concat": {"visual", "textual"}}


@dataclass
class DemoRun:
    """A working directory with its config file (and the config as loaded)."""

    workdir: Path
    configfile: Path
    config: dict[str, Any]


def snakemake_env() -> dict[str, str]:
    """One thread per job and no hub access: results do not depend on the machine."""
    env = dict(os.environ)
    env.update(
        {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    )
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def snakemake_cmd(workdir: Path, configfile: Path, *args: str) -> list[str]:
    """The command line; `args` come first because options that take several values
    (--configfile, --groups, --set-resources) would swallow targets placed after them."""
    return [
        sys.executable,
        "-m",
        "snakemake",
        *args,
        "-s",
        str(SNAKEFILE),
        "-d",
        str(workdir),
        "--configfile",
        str(configfile),
    ]


def run_snakemake(
    workdir: Path, configfile: Path, *args: str, timeout: float = 900, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run Snakemake (its log goes to stdout, lint/errors partly to stderr: merged)."""
    proc = subprocess.run(
        snakemake_cmd(workdir, configfile, *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        env=snakemake_env(),
        cwd=workdir,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed (rc {proc.returncode}):\n{proc.stdout[-8000:]}"
        )
    return proc


@dataclass
class PlannedJob:
    """One job of a dry run: its rule and the directives Snakemake prints for it."""

    rule: str
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def outputs(self) -> list[str]:
        return [o.strip() for o in self.fields.get("output", "").split(",") if o.strip()]

    @property
    def wildcards(self) -> dict[str, str]:
        pairs = (p.split("=", 1) for p in self.fields.get("wildcards", "").split(",") if "=" in p)
        return {k.strip(): v.strip() for k, v in pairs}

    @property
    def reason(self) -> str:
        return self.fields.get("reason", "")

    @property
    def resources(self) -> dict[str, str]:
        pairs = (p.split("=", 1) for p in self.fields.get("resources", "").split(", ") if "=" in p)
        return {k.strip(): v.strip() for k, v in pairs}

    def describe(self) -> str:
        return f"{self.rule}{self.wildcards or ''} -> {self.outputs[:3]}"


JOB_HEADER = re.compile(r"^(?:local)?(?:rule|checkpoint) (\w+):\s*$")
FIELD = re.compile(r"^\s{4}(\w[\w ]*):\s?(.*)$")


def parse_dry_run(text: str) -> list[PlannedJob]:
    """Job blocks of `snakemake -n` output ("rule x:" then indented "key: value" lines)."""
    jobs: list[PlannedJob] = []
    current: PlannedJob | None = None
    for line in text.splitlines():
        header = JOB_HEADER.match(line)
        if header:
            current = PlannedJob(header.group(1))
            jobs.append(current)
            continue
        if current is None:
            continue
        match = FIELD.match(line)
        if match:
            current.fields[match.group(1)] = match.group(2).strip()
        else:
            current = None
    return jobs


def dry_run(workdir: Path, configfile: Path, *args: str) -> list[PlannedJob]:
    proc = run_snakemake(workdir, configfile, "--dry-run", "--cores", "2", *args, timeout=300)
    if "Nothing to be done" in proc.stdout:
        return []
    jobs = parse_dry_run(proc.stdout)
    assert jobs, f"could not parse any job from the dry run:\n{proc.stdout[-4000:]}"
    return jobs


def results_dir(config: dict[str, Any]) -> str:
    return str(config.get("results_dir", "results")).rstrip("/")


def job_dataset(job: PlannedJob, config: dict[str, Any]) -> str | None:
    """The dataset a job belongs to (its wildcard, else the dataset folder of its outputs), or None
    for jobs across datasets (the report stage, shared tiny models)."""
    if "dataset" in job.wildcards:
        return job.wildcards["dataset"]
    datasets = set()
    for out in job.outputs:
        parts = Path(out).parts
        for name in config["datasets"]:
            if name in parts:
                datasets.add(name)
    return datasets.pop() if len(datasets) == 1 else None


def job_feature(job: PlannedJob) -> str | None:
    """The feature strategy a job works on (wildcard `strategy` or `feature`, else a path part)."""
    for key in ("strategy", "feature"):
        if key in job.wildcards:
            return job.wildcards[key]
    for out in job.outputs:
        parts = Path(out).parts
        for marker in ("features", "mmrec", "runs", "cold", "diagnostics"):
            if marker in parts:
                i = parts.index(marker)
                offset = 2 if marker in ("runs", "cold") else 1  # runs|cold/<model>/<feature>
                if i + offset < len(parts):
                    # diagnostics/<strategy>.json names the feature set by its file name
                    return Path(parts[i + offset]).stem if marker == "diagnostics" else parts[i + offset]
    return None


def job_model(job: PlannedJob) -> str | None:
    if "model" in job.wildcards:
        return job.wildcards["model"]
    for out in job.outputs:
        parts = Path(out).parts
        for marker in ("runs", "cold"):  # runs|cold/<model>/<feature>/...
            if marker in parts and parts.index(marker) + 2 < len(parts):
                return parts[parts.index(marker) + 1]
    return None


RULE_NAME = re.compile(r"^\s*(?:rule|checkpoint)\s+(\w+)\s*:", re.M)


LOCALRULES = re.compile(r"^\s*localrules:\s*\n((?:\s+\w+,?\s*\n)+)", re.M)


def local_rules() -> set[str]:
    """Rules named in a `localrules:` directive of workflow/rules/*.smk (a dry run does not say
    which jobs are local: Snakemake prints "rule" for every job when it only plans)."""
    names: set[str] = set()
    for path in (REPO / "workflow" / "rules").glob("*.smk"):
        for block in LOCALRULES.findall(path.read_text()):
            names |= {name.strip(" ,") for name in block.split() if name.strip(" ,")}
    return names


def stage_rules(stage: str) -> set[str]:
    """Names of the rules defined in workflow/rules/<stage>.smk."""
    return set(RULE_NAME.findall((REPO / "workflow" / "rules" / f"{stage}.smk").read_text()))


# Diagnostics rules that read every cell or feature set (tables and plots over a whole run).
DIAGNOSTICS_AGGREGATES = {"diagnostics_table", "slices_table", "diagnostic_plots", "cold_table"}


def is_report_job(job: PlannedJob) -> bool:
    """Aggregation-level jobs: the report stage's rules, the diagnostics' cross-cell tables and plots
    and the target rule `all`."""
    return job.rule == "all" or job.rule in stage_rules("report") | DIAGNOSTICS_AGGREGATES


def job_stage(job: PlannedJob) -> str:
    """data | features | train | report, from the rule (report) or where its outputs go (feature
    rules are generated per strategy, so their names are not in features.smk)."""
    if is_report_job(job):
        return "report"
    parts = {part for out in job.outputs for part in Path(out).parts}
    if parts & {"runs"} or job.rule == "train_cold":  # cold-start cells retrain the models
        return "train"
    if parts & {"features", "mmrec", "models", "diagnostics"}:
        return "features"
    return "data"


def load_yaml(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def write_yaml(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def small_demo_config(
    strategies: list[str] | None = None,
    models: list[str] | None = None,
    datasets: list[str] | None = None,
    users: int = 300,
    items: int = 120,
) -> dict[str, Any]:
    """config/demo.yaml made smaller (fewer users, items, epochs, seeds; optional subsets), so the
    DAG keeps the demo's shape while a full run takes a minute or two on 2 cores."""
    config = copy.deepcopy(load_yaml(DEMO_CONFIG))
    if datasets is not None:
        config["datasets"] = {k: v for k, v in config["datasets"].items() if k in datasets}
    for entry in config["datasets"].values():
        if "demo" in entry:
            entry["demo"]["n_users"] = users
            entry["demo"]["n_items"] = items
    if strategies is not None:
        config["features"]["strategies"] = strategies
    if models is not None:
        config["models"] = {k: v for k, v in config["models"].items() if k in models}
    kept = config["features"]["strategies"]
    for name, entry in list(config["models"].items()):
        if "strategies" in entry:  # models.<m>.strategies must stay a subset (validated)
            entry["strategies"] = [s for s in entry["strategies"] if s in kept]
            if not entry["strategies"]:
                del config["models"][name]
    split = config["split"]
    for key, among in (("cold_strategies", kept), ("cold_datasets", list(config["datasets"]))):
        chosen = split.get(key) or []
        split[key] = [name for name in chosen if name in among]  # validated: a subset
        if chosen and not split[key]:  # empty would mean "all": switch the protocol off instead
            split["cold_items"] = 0.0
    if config["report"]["baseline_feature"] not in kept:
        config["report"]["baseline_feature"] = kept[0]
    training = config["training"]
    training.update({"seeds": training["seeds"][:1], "epochs": 3, "patience": 2, "grid_jobs": "single"})
    for model in config["models"].values():
        # One grid point per model: the DAG is the same, the jobs are cheaper.
        model["grid"] = {k: v[:1] for k, v in model["grid"].items()}
    if "vlm2vec" in config["features"]:
        config["features"]["vlm2vec"]["shard_size"] = 16
    if "report" in config:
        config["report"]["bootstrap_samples"] = 200
    return config
