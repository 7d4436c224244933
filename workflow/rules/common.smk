# Shared helpers for every stage: the validated config, the results layout, the experiment's
# cells, job logs and benchmarks, wildcard constraints. Paths come from vlmrec.layout only.
import os
import sys

from vlmrec.config import ConfigError, prepare_config
from vlmrec.layout import NO_FEATURE, cells as experiment_cells, layout_of
from vlmrec.layout import table_features

# Validated here, so every Snakefile including this file gets the schema's defaults and the
# plan-time checks (`snakemake -n` refuses a bad config in a few lines); command-line values
# (`--config 'training={epochs: 5}'`) are read as YAML first. The message alone, no traceback.
try:
    prepare_config(config, workflow.config_settings.overwrite_config)
except ConfigError as error:
    sys.exit(f"{error}")

LAYOUT = layout_of(config)
RESULTS = LAYOUT.results
DATASETS = list(config["datasets"])
STRATEGIES = list(config["features"]["strategies"])
MODELS = list(config["models"])
# Every (dataset, model, feature) cell of the table; feature is a strategy or NO_FEATURE ("id").
CELLS = experiment_cells(config)

# A GPU job's resources: one card, and on SLURM the site's GPU partition and model (environment
# variables, see profiles/slurm/config.yaml). They sit on the rule, so a new GPU rule (a new
# encoded strategy) is placed on a GPU node without naming it in the profile. "" = site default.
GPU_RESOURCES = {
    "gpu": 1,
    "gpu_model": os.environ.get("VLMREC_GPU_MODEL", ""),
    "slurm_partition": os.environ.get("VLMREC_GPU_PARTITION")
    or os.environ.get("VLMREC_SLURM_PARTITION", ""),
}


wildcard_constraints:
    dataset="|".join(DATASETS),
    model="|".join(MODELS),


def dataset_config(dataset):
    return config["datasets"][dataset]


def job_log(rule, job="{dataset}"):
    """One log file per job, under results_dir (two configs never share logs)."""
    return LAYOUT.log_file(rule, job)


def job_benchmark(rule, job="{dataset}"):
    """Wall time and peak memory of each job (Snakemake's benchmark TSV), for run planning."""
    return LAYOUT.benchmark_file(rule, job)


def conda_env(name):
    """Path of a conda environment file, relative to the rule files (workflow/rules/)."""
    return f"../../envs/{name}.yaml"


def final_targets():
    targets = []
    if "feature_targets" in globals():
        targets += feature_targets()
    if "report_targets" in globals():
        targets += report_targets()
    if "diagnostics_targets" in globals():
        targets += diagnostics_targets()
    else:
        targets += [LAYOUT.cell_file(*cell, "metrics") for cell in CELLS]
    return targets
