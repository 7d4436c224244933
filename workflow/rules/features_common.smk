# Helpers of the features stage (kept apart from the rules: `snakemake --lint` wants rules and
# functions in separate files). `feature_files(dataset, strategy)` is what training jobs need.
import os

from vlmrec.features.registry import (
    ENCODER_SECTIONS,
    feature_set_files,
    get_spec,
    strategy_applies,
    strategy_params,
)

TINY_MODELS_DIR = "resources/models"
TINY_MODELS = ["tiny-qwen2vl", "tiny-qwen2vl-lora", "tiny-resnet", "tiny-bert"]
# Resources of encoded (GPU) jobs; a profile's set-resources can override them per rule.
ENCODE_RESOURCES = {"gpu": 1, "mem_mb": 32000, "runtime": 360}
COMBINE_RESOURCES = {"mem_mb": 4000, "runtime": 20, "cpus_per_task": 1}


def feature_dir(dataset, strategy):
    return f"{RESULTS}/{dataset}/features/{strategy}"


def feature_files(dataset, strategy):
    """Files a training job needs for one feature set (modality .npy files + manifest.json)."""
    return [
        f"{feature_dir(dataset, strategy)}/{name}"
        for name in feature_set_files(strategy)
    ]


def feature_applies(dataset, strategy):
    return strategy_applies(strategy, dataset_config(dataset))


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
    out = f"{RESULTS}/{dataset}/mmrec/{strategy}"
    return [f"{out}/{dataset}.inter", f"{out}/image_feat.npy", f"{out}/text_feat.npy"]


def local_model_dirs(strategy):
    """Tiny-model folders a strategy's encoders load (only paths under resources/models/ are
    built by the workflow; hub ids and other folders are not inputs)."""
    dirs = []
    for kind in get_spec(strategy).encoders:
        section = config["features"].get(ENCODER_SECTIONS[kind]) or {}
        for key in ("model", "adapter"):
            value = str(section.get(key) or "").rstrip("/")
            if value.startswith(f"{TINY_MODELS_DIR}/"):
                dirs.append(value)
    return dirs


def extract_inputs(strategy):
    spec = get_spec(strategy)
    inputs = {
        "items_table": f"{RESULTS}/{{dataset}}/items.parquet",
        "models": local_model_dirs(strategy),
        "raw": [f"{RESULTS}/{{dataset}}/raw/{name}" for name in spec.raw_inputs],
    }
    for reused in spec.reuses:
        inputs[f"reuse_{reused}"] = [
            f"{RESULTS}/{{dataset}}/features/{reused}/{name}"
            for name in feature_set_files(reused)
        ]
    return inputs


def extract_outputs(strategy):
    out = f"{RESULTS}/{{dataset}}/features/{strategy}"
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
    workers = (config["features"].get("vlm2vec") or {}).get("num_workers", 4)
    return {**ENCODE_RESOURCES, "cpus_per_task": workers + 1}
