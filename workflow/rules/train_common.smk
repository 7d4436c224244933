# Helpers of the training stage (train.smk): settings, resources, inputs and outputs of a cell.
from vlmrec.layout import POINT_SUFFIXES
from vlmrec.training.points import point_by_name, point_names

# Training settings that change results; grid_jobs only changes the job layout.
TRAIN_SETTINGS = {k: v for k, v in config["training"].items() if k != "grid_jobs"}
# A grid point's runs do not depend on how the winner is chosen: select_on reruns select_cell only.
POINT_SETTINGS = {k: v for k, v in TRAIN_SETTINGS.items() if k != "select_on"}
# Per-job resources; a profile's set-resources can override them per rule. A job that may use
# CUDA (training.device auto or cuda) reserves the GPU, so GPU jobs never share a card;
# `training.device: cpu` is the CPU-only setting and reserves none.
TRAIN_RESOURCES = {
    "mem_mb": 16000,
    "runtime": 720,
    "cpus_per_task": 2,
    **(GPU_RESOURCES if config["training"]["device"] != "cpu" else {}),
}
TRAIN_CONSTRAINTS = {
    "feature": "|".join([*STRATEGIES, NO_FEATURE]),
    "point": "[A-Za-z0-9_.+-]+",
}
# Path patterns of a cell's outputs and of one grid point's files (vlmrec.layout).
CELL_WILDCARDS = ("{dataset}", "{model}", "{feature}")
CELL_OUTPUTS = LAYOUT.cell_files(*CELL_WILDCARDS)
POINT_OUTPUTS = LAYOUT.point_files(*CELL_WILDCARDS, "{point}")
CELL_JOB = "{dataset}/{model}/{feature}"


def train_inputs(wildcards):
    # user_map / item_map: original user ids and asins of the saved recommendation lists.
    inputs = {
        role: LAYOUT.data_file(wildcards.dataset, role)
        for role in ("interactions", "user_map", "item_map")
    }
    if wildcards.feature != NO_FEATURE:
        inputs["features"] = feature_files(wildcards.dataset, wildcards.feature)
    return inputs


def model_grid(model):
    return config["models"][model]["grid"]


def cell_point_files(wildcards):
    """Every grid point's files of a cell by role, in grid order (select_cell's input)."""
    cell = (wildcards.dataset, wildcards.model, wildcards.feature)
    files = [
        LAYOUT.point_files(*cell, name) for name in point_names(model_grid(cell[1]))
    ]
    return {role: [f[role] for f in files] for role in POINT_SUFFIXES}
