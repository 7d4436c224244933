# Shared helpers for every stage: result paths, the experiment's cells, wildcard constraints.
RESULTS = config.get("results_dir", "results")
DATASETS = list(config["datasets"])
STRATEGIES = list(config["features"]["strategies"])
MODELS = list(config["models"])
# The ID-only models (LightGCN) have one "feature" column in the table: no item features.
NO_FEATURE = "id"


wildcard_constraints:
    dataset="|".join(DATASETS),
    model="|".join(MODELS),


def dataset_config(dataset):
    return config["datasets"][dataset]


def features_for_model(model):
    """Feature sets a model is trained on: every strategy, or `id` for ID-only models."""
    return STRATEGIES if config["models"][model]["features"] else [NO_FEATURE]


def cells():
    """Every (dataset, model, feature) cell of the comparison table.

    A strategy that does not apply to a dataset (e.g. `provided` needs an mmrec-source dataset)
    gives no cell; `feature_applies` comes from features_common.smk.
    """
    return [
        (dataset, model, feature)
        for dataset in DATASETS
        for model in MODELS
        for feature in features_for_model(model)
        if feature == NO_FEATURE or strategy_applies_to(dataset, feature)
    ]


def strategy_applies_to(dataset, strategy):
    """The feature stage's `feature_applies` when it is loaded (small test workflows may not)."""
    check = globals().get("feature_applies")
    return check is None or check(dataset, strategy)


def cell_dir(dataset, model, feature):
    return f"{RESULTS}/{dataset}/runs/{model}/{feature}"


def conda_env(name):
    """Path of a conda environment file, relative to the rule files (workflow/rules/)."""
    return f"../../envs/{name}.yaml"


def final_targets():
    targets = []
    if "feature_targets" in globals():
        targets += feature_targets()
    if "report_targets" in globals():
        targets += report_targets()
    else:
        targets += [f"{cell_dir(*cell)}/metrics.json" for cell in cells()]
    return targets
