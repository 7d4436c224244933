# Helpers of the features stage (kept apart from the rules: `snakemake --lint` wants rules and
# functions in separate files). `feature_files(dataset, strategy)` is what training jobs need.
import os

from vlmrec.features.specs import (
    encoded_model_paths,
    runner_settings,
    strategy_applies,
    strategy_params,
    strategy_spec,
)
from vlmrec.features.tiny_models import TINY_MODEL_NAMES

TINY_MODELS_DIR = "resources/models"
TINY_MODELS = list(TINY_MODEL_NAMES)
# Resources of encoded (GPU) jobs; a profile's set-resources can override them per rule.
ENCODE_RESOURCES = {**GPU_RESOURCES, "mem_mb": 32000, "runtime": 360}
COMBINE_RESOURCES = {"mem_mb": 4000, "runtime": 20, "cpus_per_task": 1}


def get_spec(strategy):
    """The strategy's spec: a module strategy or a features.declared entry (torch-free)."""
    return strategy_spec(strategy, config["features"])


def feature_set_files(strategy):
    return get_spec(strategy).files


def feature_dir(dataset, strategy):
    return LAYOUT.feature_dir(dataset, strategy)


def feature_files(dataset, strategy):
    """Files a training job needs for one feature set (modality .npy files + manifest.json)."""
    return [
        f"{feature_dir(dataset, strategy)}/{name}"
        for name in feature_set_files(strategy)
    ]


def feature_applies(dataset, strategy):
    return strategy_applies(get_spec(strategy), dataset_config(dataset))


def feature_targets():
    """Every applicable feature set and its MMRec export, for every dataset x strategy."""
    targets = []
    for dataset in DATASETS:
        for strategy in STRATEGIES:
            if feature_applies(dataset, strategy):
                targets += feature_files(dataset, strategy)
                targets += mmrec_export_files(dataset, strategy)
    return targets


def mmrec_export_files(dataset, strategy):
    return list(LAYOUT.mmrec_export_files(dataset, strategy).values())


def local_model_dirs(strategy):
    """Tiny-model folders a strategy's encoders load (only paths under resources/models/ are
    built by the workflow; hub ids and other folders are not inputs)."""
    paths = [
        os.path.normpath(p)
        for p in encoded_model_paths(get_spec(strategy), config["features"])
    ]
    return [p for p in paths if os.path.dirname(p) == TINY_MODELS_DIR]


def extract_inputs(strategy):
    spec = get_spec(strategy)
    inputs = {
        "items_table": LAYOUT.data_file("{dataset}", "items_table"),
        "models": local_model_dirs(strategy),
        "raw": [LAYOUT.raw_file("{dataset}", name) for name in spec.raw_inputs],
    }
    for reused in spec.reuses:
        inputs[f"reuse_{reused}"] = feature_files("{dataset}", reused)
    return inputs


def extract_outputs(strategy):
    out = LAYOUT.feature_dir("{dataset}", strategy)
    outputs = {m: f"{out}/{m}.npy" for m in get_spec(strategy).modalities}
    outputs["manifest"] = f"{out}/manifest.json"
    return outputs


def rule_params(strategy):
    """The strategy's params, each behind a function: prompts contain `{text}`, which Snakemake
    would otherwise try to fill as a wildcard. Snakemake stores the returned values, so an edit
    still triggers a rerun."""
    params = {"strategy": strategy, **strategy_params(strategy, config["features"])}
    return {
        key: (lambda wildcards, value=value: value) for key, value in params.items()
    }


def feature_rule_name(strategy):
    """extract_<name> for encoded strategies, combine_<name> for those built from other files."""
    return f"{'extract' if get_spec(strategy).encodes else 'combine'}_{strategy}"


def extract_resources(strategy):
    if not get_spec(strategy).encodes:
        return COMBINE_RESOURCES
    workers = runner_settings(config["features"])["num_workers"]
    return {**ENCODE_RESOURCES, "cpus_per_task": workers + 1}
