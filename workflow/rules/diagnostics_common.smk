# Helpers of the diagnostics stage (diagnostics.smk): feature diagnostics, evaluation slices and
# the cold-start protocol (issue 12). Paths of this stage are defined here.
from vlmrec.layout import model_strategies
from vlmrec.layout import strategy_applies as layout_strategy_applies

DIAGNOSTICS = dict(sorted(config["diagnostics"].items()))
COLD_FRACTION = float(config["split"]["cold_items"])


def diagnostics_file(dataset, strategy):
    return f"{RESULTS}/{dataset}/diagnostics/{strategy}.json"


def diagnostics_strategies(dataset):
    """Every configured strategy that applies to the dataset (features exist for it)."""
    return [s for s in STRATEGIES if layout_strategy_applies(config, dataset, s)]


def diagnostics_files(dataset=None):
    datasets = DATASETS if dataset is None else [dataset]
    return [diagnostics_file(d, s) for d in datasets for s in diagnostics_strategies(d)]


def feature_cells(dataset):
    """The dataset's cells trained on features (the plots compare feature sets)."""
    return [c for c in CELLS if c[0] == dataset and c[2] != NO_FEATURE]


def model_scores_cold_items(model):
    # The model's class flags read from its source (torch-free at plan time).
    from vlmrec.models.registry import model_declaration

    flags = model_declaration(model).flags
    return flags["uses_features"] and flags["scores_cold_items"]


def cold_datasets():
    if COLD_FRACTION <= 0:
        return []
    chosen = config["split"]["cold_datasets"] or DATASETS
    return [d for d in chosen if d in DATASETS]


def cold_cells():
    """(dataset, model, feature) of the cold-start protocol: models that can score cold items."""
    subset = config["split"]["cold_strategies"] or None
    return [
        (dataset, model, feature)
        for dataset in cold_datasets()
        for model in MODELS
        if model_scores_cold_items(model)
        for feature in model_strategies(config, model)
        if (subset is None or feature in subset)
        and layout_strategy_applies(config, dataset, feature)
    ]


def cold_not_applicable():
    """(dataset, model) pairs listed as not applicable: models that cannot score cold items."""
    return [
        [dataset, model]
        for dataset in cold_datasets()
        for model in MODELS
        if not model_scores_cold_items(model)
    ]


def cold_cell_file(dataset, model, feature):
    return f"{RESULTS}/{dataset}/cold/{model}/{feature}/metrics.json"


def diagnostics_targets():
    """What `rule all` needs from this stage."""
    targets = [
        f"{RESULTS}/diagnostics.csv",
        f"{RESULTS}/diagnostics.md",
        f"{RESULTS}/slices.csv",
    ]
    for dataset in DATASETS:
        if feature_cells(dataset):
            targets += [
                f"{RESULTS}/plots/{dataset}/{kind}.{ext}"
                for kind in ("agreement", "popularity")
                for ext in ("png", "svg")
            ]
    if cold_cells():
        targets += [f"{RESULTS}/cold_start.csv", f"{RESULTS}/cold_start.md"]
    return targets
