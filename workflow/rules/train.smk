# Stage: train. A cell is (dataset, model, feature); feature is a strategy, or `id` for ID-only
# models. training.grid_jobs picks the job layout:
#   separate: one train_point job per grid point (a cluster runs them in parallel), then select_cell;
#   single:   train_cell runs the whole grid in one job (cheap on a laptop).
# Both write the same cell outputs (docs/ARCHITECTURE.md), through one script (scripts/train.py).
# Model parameters, the grid and the training settings arrive as params, so editing a FREEDOM
# value reruns only FREEDOM cells.


include: "train_common.smk"


if config["training"]["grid_jobs"] == "separate":

    localrules:
        select_cell,

    rule train_point:
        input:
            unpack(train_inputs),
        output:
            **POINT_OUTPUTS,
        log:
            job_log("train_point", f"{CELL_JOB}/{{point}}"),
        benchmark:
            job_benchmark("train_point", f"{CELL_JOB}/{{point}}")
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
            training=POINT_SETTINGS,
        script:
            "../scripts/train.py"

    rule select_cell:
        input:
            unpack(cell_point_files),
        output:
            **CELL_OUTPUTS,
        log:
            job_log("select_cell", CELL_JOB),
        benchmark:
            job_benchmark("select_cell", CELL_JOB)
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
            "../scripts/train.py"

else:

    rule train_cell:
        input:
            unpack(train_inputs),
        output:
            **CELL_OUTPUTS,
        log:
            job_log("train_cell", CELL_JOB),
        benchmark:
            job_benchmark("train_cell", CELL_JOB)
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
            "../scripts/train.py"
