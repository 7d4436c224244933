# Helpers of the training stage (train.smk): settings, resources, inputs and outputs of a cell.
from vlmrec.training.grid import point_by_name, point_names

# Training settings that change results; grid_jobs only changes the job layout.
TRAIN_SETTINGS = {k: v for k, v in config["training"].items() if k != "grid_jobs"}
# A grid point's runs do not depend on how the winner is chosen: select_on reruns select_cell only.
POINT_SETTINGS = {k: v for k, v in TRAIN_SETTINGS.items() if k != "select_on"}
# Per-job resources; a profile's set-resources can override them per rule. A GPU is requested
# only for training.device: cuda (auto uses one when the job happens to see one).
TRAIN_RESOURCES = {
    "mem_mb": 16000,
    "runtime": 720,
    "cpus_per_task": 2,
    **({"gpu": 1} if config["training"].get("device") == "cuda" else {}),
}
TRAIN_CONSTRAINTS = {
    "feature": "|".join([*STRATEGIES, NO_FEATURE]),
    "point": "[A-Za-z0-9_.+-]+",
}


def train_inputs(wildcards):
    inputs = {"interactions": f"{RESULTS}/{wildcards.dataset}/interactions.parquet"}
    if wildcards.feature != NO_FEATURE:
        inputs["features"] = feature_files(wildcards.dataset, wildcards.feature)
    return inputs


def model_grid(model):
    return config["models"][model]["grid"]


def point_outputs(prefix):
    return {
        "result": f"{prefix}.json",
        "per_user": f"{prefix}.per_user_test.parquet",
        "curve": f"{prefix}.curve.csv",
        "checkpoint": f"{prefix}.pt",
    }


def cell_point_files(wildcards):
    """Every grid point's files of a cell, in grid order (select_cell's input)."""
    points_dir = (
        f"{cell_dir(wildcards.dataset, wildcards.model, wildcards.feature)}/points"
    )
    names = point_names(model_grid(wildcards.model))
    files = [point_outputs(f"{points_dir}/{name}") for name in names]
    return {
        key: [f[key] for f in files]
        for key in ("result", "per_user", "curve", "checkpoint")
    }


CELL_OUTPUTS = {
    "metrics": f"{RESULTS}/{{dataset}}/runs/{{model}}/{{feature}}/metrics.json",
    "per_user": f"{RESULTS}/{{dataset}}/runs/{{model}}/{{feature}}/per_user_test.parquet",
    "curve": f"{RESULTS}/{{dataset}}/runs/{{model}}/{{feature}}/curve.csv",
    "checkpoint": f"{RESULTS}/{{dataset}}/runs/{{model}}/{{feature}}/best.pt",
}
