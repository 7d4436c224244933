"""Incremental reruns (issue 6): after a complete run of the (reduced) demo, a change plans exactly
the jobs that depend on it. Plans are read from `snakemake --dry-run` (and `--summary`); the Prompt#2
edit is also run for real and every file on disk is checked.

Each test works on a private copy of the shared completed run (fixtures in conftest.py)."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from workflow_helpers import (
    DERIVED_FROM,
    DIAGNOSTICS_AGGREGATES,
    DemoRun,
    PlannedJob,
    dry_run,
    is_report_job,
    job_dataset,
    job_feature,
    job_model,
    job_stage,
    results_dir,
    run_snakemake,
    stage_rules,
    write_yaml,
)

from vlmrec.layout import NO_FEATURE, cells, model_strategies

pytestmark = pytest.mark.slow


def affected_strategies(changed: str, strategies: list[str]) -> set[str]:
    """The strategy itself and every strategy computed from its files."""
    return {changed} | {s for s in strategies if changed in DERIVED_FROM.get(s, set())}


def feature_models(config: dict) -> list[str]:
    """Models trained on item features (read from the model classes, as the workflow does)."""
    return [m for m in config["models"] if model_strategies(config, m) != [NO_FEATURE]]


def cells_on(config: dict, datasets: set[str], features: set[str], models: set[str] | None = None) -> set:
    """The configured cells (each model's `strategies` subset honoured) on these datasets/features."""
    return {
        (d, m, f)
        for d, m, f in cells(config)
        if d in datasets and f in features and (models is None or m in models)
    }


def jobs_of_stage(jobs: list[PlannedJob], stage: str) -> list[PlannedJob]:
    return [j for j in jobs if job_stage(j) == stage]


def assert_only(jobs: list[PlannedJob], allowed: Callable[[PlannedJob], bool], what: str) -> None:
    """Every planned job outside the report stage depends on the change; the table is redone."""
    unexpected = [j.describe() for j in jobs if not is_report_job(j) and not allowed(j)]
    assert not unexpected, f"{what}: jobs planned that do not depend on the change:\n" + "\n".join(unexpected)
    assert any(j.rule == "aggregate" for j in jobs), f"{what}: the aggregation is not planned"


def train_cells(jobs: list[PlannedJob], config: dict) -> set[tuple[str, str, str]]:
    return {(job_dataset(j, config), job_model(j), job_feature(j)) for j in jobs_of_stage(jobs, "train")}


def change_config(run: DemoRun, edit: Callable[[dict], None]) -> None:
    edit(run.config)
    write_yaml(run.configfile, run.config)


def edit_prompt2(config: dict) -> None:
    config["features"]["prompts"]["prompt2"] += " Answer briefly."


def assert_prompt2_plan(jobs: list[PlannedJob], config: dict) -> None:
    strategies = config["features"]["strategies"]
    allowed = affected_strategies("prompt2", strategies)
    assert_only(jobs, lambda j: job_feature(j) in allowed, "Prompt#2 edit")
    extraction = [j for j in jobs_of_stage(jobs, "features") if job_feature(j) == "prompt2"]
    assert {job_dataset(j, config) for j in extraction} == set(config["datasets"]), [
        j.describe() for j in extraction
    ]
    assert any("Params have changed" in j.reason for j in extraction), [j.reason for j in extraction]
    expected_cells = cells_on(config, set(config["datasets"]), allowed)
    assert train_cells(jobs, config) == expected_cells


def test_prompt2_edit_plans_only_prompt2(demo_copy: DemoRun) -> None:
    change_config(demo_copy, edit_prompt2)
    assert_prompt2_plan(dry_run(demo_copy.workdir, demo_copy.configfile), demo_copy.config)


def test_prompt2_edit_summary(demo_copy: DemoRun) -> None:
    """`--summary` agrees: only Prompt#2 files have changed params; only they and the report
    outputs have an update pending."""
    change_config(demo_copy, edit_prompt2)
    proc = run_snakemake(demo_copy.workdir, demo_copy.configfile, "--summary", "--cores", "1")
    lines = [line.split("\t") for line in proc.stdout.splitlines() if "\t" in line]
    header = lines[0]
    rows = [dict(zip(header, line)) for line in lines[1:]]
    assert rows, proc.stdout[-3000:]
    report_rules = stage_rules("report") | DIAGNOSTICS_AGGREGATES
    params_changed = [r["output_file"] for r in rows if "params changed" in r["status"]]
    assert params_changed and all("prompt2" in Path(f).parts for f in params_changed), params_changed
    pending = [r for r in rows if r["plan"] == "update pending"]
    assert pending, "nothing pending after the edit"
    stray = [
        r["output_file"]
        for r in pending
        if "prompt2" not in {*Path(r["output_file"]).parts, Path(r["output_file"]).stem}
        and r["rule"] not in report_rules
    ]
    assert not stray, f"updates pending for files that do not depend on Prompt#2: {stray}"


def file_states(root: Path, results: str) -> dict[str, tuple[int, str]]:
    """path -> (mtime_ns, sha256) of every file under results/ and resources/."""
    states = {}
    for top in (results, "resources"):
        for path in sorted((root / top).rglob("*")):
            if path.is_file():
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                states[str(path.relative_to(root))] = (path.stat().st_mtime_ns, digest)
    return states


def test_prompt2_edit_runs_only_prompt2(demo_copy: DemoRun) -> None:
    """Run the Prompt#2 edit for real: only Prompt#2 files and the report change on disk."""
    results = results_dir(demo_copy.config)
    before = file_states(demo_copy.workdir, results)
    change_config(demo_copy, edit_prompt2)
    run_snakemake(demo_copy.workdir, demo_copy.configfile, "--cores", "2", timeout=900)
    after = file_states(demo_copy.workdir, results)

    touched = {p for p in after if before.get(p, (None, None))[0] != after[p][0]}
    # Report-level folders; benchmarks/ and logs/ hold one record per job that ran.
    report_dirs = {"plots", "partial", "benchmarks", "logs"}

    def allowed(path: str) -> bool:
        parts = Path(path).parts
        report_level = parts[0] == results and (len(parts) == 2 or parts[1] in report_dirs)
        # prompt2's own folders, and its shard cache (features/.shards/prompt2-<modality>-<key>/).
        prompt2 = any(part in ("prompt2", "prompt2.json") or part.startswith("prompt2-") for part in parts)
        return prompt2 or report_level

    stray = sorted(p for p in touched if not allowed(p))
    assert not stray, f"files rewritten that do not depend on Prompt#2: {stray}"
    assert not set(before) - set(after), "files lost"
    for dataset in demo_copy.config["datasets"]:
        manifest = f"{results}/{dataset}/features/prompt2/manifest.json"
        assert manifest in touched, f"{manifest} was not rebuilt"
        assert before[manifest][1] != after[manifest][1], f"{manifest} did not change"
        prompt = json.loads((demo_copy.workdir / manifest).read_text())["prompt"]
        assert prompt == demo_copy.config["features"]["prompts"]["prompt2"]
        for _, model, _ in cells_on(demo_copy.config, {dataset}, {"prompt2"}):
            assert f"{results}/{dataset}/runs/{model}/prompt2/metrics.json" in touched
    assert f"{results}/table.csv" in touched
    assert dry_run(demo_copy.workdir, demo_copy.configfile) == [], "a second run would do more work"


def test_freedom_param_plans_only_freedom(demo_copy: DemoRun) -> None:
    def edit(config: dict) -> None:
        params = config["models"]["freedom"]["params"]
        params["knn_k"] = int(params.get("knn_k", 10)) - 3

    change_config(demo_copy, edit)
    jobs = dry_run(demo_copy.workdir, demo_copy.configfile)
    assert_only(jobs, lambda j: job_model(j) == "freedom", "FREEDOM hyper-parameter")
    config = demo_copy.config
    expected = cells_on(config, set(config["datasets"]), set(config["features"]["strategies"]), {"freedom"})
    assert train_cells(jobs, config) == expected
    assert not jobs_of_stage(jobs, "features") and not jobs_of_stage(jobs, "data")


def test_third_dataset_plans_only_its_jobs(demo_copy: DemoRun) -> None:
    old = "demo_baby"
    new = "demo_extra"

    def edit(config: dict) -> None:
        entry = copy.deepcopy(config["datasets"][old])
        for key, value in list(entry.items()):
            if isinstance(value, str):
                entry[key] = value.replace(f"/{old}/", f"/{new}/")
        entry["demo"]["seed"] = int(entry["demo"]["seed"]) + 100
        config["datasets"][new] = entry

    change_config(demo_copy, edit)
    config = demo_copy.config
    jobs = dry_run(demo_copy.workdir, demo_copy.configfile)
    # The report stage (aggregation, plots) may be redone: its tables list every dataset.
    stray = [j.describe() for j in jobs if not is_report_job(j) and job_dataset(j, config) != new]
    assert not stray, "jobs planned for the existing datasets:\n" + "\n".join(stray)
    assert any(j.rule == "aggregate" for j in jobs)
    strategies = set(config["features"]["strategies"])
    assert {
        job_feature(j) for j in jobs_of_stage(jobs, "features") if job_dataset(j, config) == new
    } >= strategies
    expected = cells_on(config, {new}, strategies)
    assert train_cells(jobs, config) >= expected


def feature_file(run: DemoRun, dataset: str, strategy: str) -> Path:
    folder = run.workdir / results_dir(run.config) / dataset / "features" / strategy
    files = sorted(folder.glob("*.npy"))
    assert files, f"no feature matrix in {folder}"
    return files[0]


@pytest.mark.parametrize("target", ["features", "cell"])
def test_deleted_file_rebuilds_only_its_branch(demo_copy: DemoRun, target: str) -> None:
    """A deleted final output (a feature matrix) is rebuilt by `snakemake`; a deleted intermediate
    (a cell's metrics.json: Snakemake >= 7.8 does not regenerate missing intermediates whose
    consumers are up to date) by naming it: `snakemake <file> all`. Either way only its branch."""
    config = demo_copy.config
    dataset = next(iter(config["datasets"]))
    strategies = config["features"]["strategies"]
    targets: list[str] = []
    if target == "features":
        feature = "visual" if "visual" in strategies else strategies[0]
        feature_file(demo_copy, dataset, feature).unlink()
        features = affected_strategies(feature, strategies)
        models = set(config["models"])
    else:
        model = feature_models(config)[0]
        feature = "prompt1" if "prompt1" in strategies else strategies[0]
        deleted = f"{results_dir(config)}/{dataset}/runs/{model}/{feature}/metrics.json"
        (demo_copy.workdir / deleted).unlink()
        features, models = {feature}, {model}
        targets = [deleted, "all"]
    jobs = dry_run(demo_copy.workdir, demo_copy.configfile, *targets)

    def allowed(job: PlannedJob) -> bool:
        model = job_model(job)
        return (
            job_dataset(job, config) == dataset and job_feature(job) in features and model in models | {None}
        )

    assert_only(jobs, allowed, f"deleted {target} file")
    # `plots` of every dataset read table.csv (significance marks), which the aggregation rewrites.
    other_datasets = [
        j
        for j in jobs
        if is_report_job(j) and j.rule != "plots" and j.wildcards.get("dataset", dataset) != dataset
    ]
    assert not other_datasets, [j.describe() for j in other_datasets]
    assert any("Missing output files" in j.reason for j in jobs)
    assert train_cells(jobs, config) == cells_on(
        config, {dataset}, features, models & set(feature_models(config))
    )
