# Helpers of the report stage (kept apart from its rules, as `snakemake --lint` asks).
from pathlib import Path

from vlmrec.layout import PLOT_FORMATS, PLOT_KINDS

REPORT = config["report"]
# The table's row/column order, and the ReportSettings of vlmrec.report.aggregate (one param each).
REPORT_ORDER = dict(datasets=DATASETS, models=MODELS, features=table_features(config))
REPORT_SETTINGS = {
    "metrics": REPORT["metrics"],
    "k": REPORT["k"],
    "baseline_feature": REPORT["baseline_feature"],
    "alpha": REPORT["alpha"],
    "bootstrap_samples": REPORT["bootstrap_samples"],
    "seed": config["seed"],
}


def report_cell_files(role, dataset=None):
    """One file of every cell (role: metrics, per_user, curve, ...), optionally of one dataset."""
    return [
        LAYOUT.cell_file(*cell, role)
        for cell in CELLS
        if dataset is None or cell[0] == dataset
    ]


def report_manifests(dataset):
    """Feature manifests of the strategies some model of the table is trained on."""
    strategies = {f for d, _m, f in CELLS if d == dataset and f != NO_FEATURE}
    return [
        f"{LAYOUT.feature_dir(dataset, strategy)}/manifest.json"
        for strategy in STRATEGIES
        if strategy in strategies
    ]


def report_plot_files(dataset):
    return [
        LAYOUT.plot_file(dataset, kind, fmt)
        for kind in PLOT_KINDS
        for fmt in PLOT_FORMATS
    ]


def report_finished_cells():
    """[metrics.json, mtime] of the cells finished so far: a new or rewritten cell changes this
    param, so `snakemake partial_table` reruns exactly when the partial table would change.
    """
    finished = []
    for cell in CELLS:
        path = Path(LAYOUT.cell_file(*cell, "metrics"))
        if path.exists():
            finished.append([str(path), path.stat().st_mtime_ns])
    return finished


def report_missing_cells():
    return [
        list(cell)
        for cell in CELLS
        if not Path(LAYOUT.cell_file(*cell, "metrics")).exists()
    ]


def report_targets():
    """What `rule all` needs from the report stage."""
    targets = [*LAYOUT.table_files().values(), LAYOUT.paper_comparison()]
    for dataset in DATASETS:
        targets += report_plot_files(dataset)
    return targets
