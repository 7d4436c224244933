# Helpers of the report stage (kept apart from its rules, as `snakemake --lint` asks).
from pathlib import Path

REPORT = config["report"]
REPORT_PLOT_KINDS = ["bars", "curves", "dims", "cost"]
REPORT_ORDER = dict(
    datasets=DATASETS, models=MODELS, features=STRATEGIES + [NO_FEATURE]
)


def report_cell_files(name, dataset=None):
    """`name` (metrics.json, curve.csv, ...) in every cell directory, optionally of one dataset."""
    return [
        f"{cell_dir(*cell)}/{name}"
        for cell in cells()
        if dataset is None or cell[0] == dataset
    ]


def report_manifests(dataset):
    """Feature manifests of the strategies some model of the table is trained on."""
    if not any(config["models"][model]["features"] for model in MODELS):
        return []
    return [
        f"{RESULTS}/{dataset}/features/{strategy}/manifest.json"
        for strategy in STRATEGIES
        if strategy_applies_to(dataset, strategy)
    ]


def report_plot_files(dataset):
    return [
        f"{RESULTS}/plots/{dataset}/{kind}.{ext}"
        for kind in REPORT_PLOT_KINDS
        for ext in ("png", "svg")
    ]


def report_finished_cells():
    """[metrics.json, mtime] of the cells finished so far: a new or rewritten cell changes this
    param, so `snakemake partial_table` reruns exactly when the partial table would change.
    """
    finished = []
    for cell in cells():
        path = Path(cell_dir(*cell)) / "metrics.json"
        if path.exists():
            finished.append([str(path), path.stat().st_mtime_ns])
    return finished


def report_missing_cells():
    return [
        list(cell)
        for cell in cells()
        if not Path(f"{cell_dir(*cell)}/metrics.json").exists()
    ]


def report_targets():
    """What `rule all` needs from the report stage."""
    targets = [f"{RESULTS}/table.{ext}" for ext in ("csv", "md", "tex", "html")] + [
        f"{RESULTS}/significance.csv",
        f"{RESULTS}/paper_comparison.md",
    ]
    for dataset in DATASETS:
        targets += report_plot_files(dataset)
    return targets
