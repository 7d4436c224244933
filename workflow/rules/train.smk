# Stage: train. A cell is (dataset, model, feature); feature is a strategy, or `id` for ID-only
# models. training.grid_jobs picks the job layout:
#   separate: one train_point job per grid point (a cluster runs them in parallel), then select_cell;
#   single:   train_cell runs the whole grid in one job (cheap on a laptop).
# Both write the same cell outputs (docs/ARCHITECTURE.md). Model parameters, the grid and the
# training settings arrive as params, so editing a FREEDOM value reruns only FREEDOM cells.
from vlmrec.training.grid import point_by_name, point_names

# Training settings that change results; grid_jobs only changes the job layout.
TRAIN_SETTINGS = {k: v for k, v in config["training"].items() if k != "grid_jobs"}
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


if config["training"].get("grid_jobs", "separate") == "separate":

    localrules:
        select_cell,

    rule train_point:
        input:
            unpack(train_inputs),
        output:
            **point_outputs(
                f"{RESULTS}/{{dataset}}/runs/{{model}}/{{feature}}/points/{{point}}"
            ),
        log:
            "logs/train_point/{dataset}/{model}/{feature}/{point}.log",
        wildcard_constraints:
            **TRAIN_CONSTRAINTS,
        conda:
            conda_env("train")
        threads: TRAIN_RESOURCES["cpus_per_task"]
        resources:
            **TRAIN_RESOURCES,
        params:
            model_params=lambda w: config["models"][w.model]["params"],
            point=lambda w: point_by_name(model_grid(w.model), w.point),
            training=TRAIN_SETTINGS,
        script:
            "../scripts/train_point.py"

    rule select_cell:
        input:
            unpack(cell_point_files),
        output:
            **CELL_OUTPUTS,
        log:
            "logs/select_cell/{dataset}/{model}/{feature}.log",
        wildcard_constraints:
            **TRAIN_CONSTRAINTS,
        conda:
            conda_env("train")
        resources:
            mem_mb=2000,
            runtime=10,
        params:
            select_on=config["training"]["select_on"],
            valid_metric=config["training"]["valid_metric"],
        script:
            "../scripts/train_select.py"

else:

    rule train_cell:
        input:
            unpack(train_inputs),
        output:
            **CELL_OUTPUTS,
        log:
            "logs/train_cell/{dataset}/{model}/{feature}.log",
        wildcard_constraints:
            **TRAIN_CONSTRAINTS,
        conda:
            conda_env("train")
        threads: TRAIN_RESOURCES["cpus_per_task"]
        resources:
            **TRAIN_RESOURCES,
        params:
            model_params=lambda w: config["models"][w.model]["params"],
            grid=lambda w: model_grid(w.model),
            training=TRAIN_SETTINGS,
        script:
            "../scripts/train_cell.py"
