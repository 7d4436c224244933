"""`python -m vlmrec aggregate | plots | paper-comparison`: the report steps without Snakemake.

Settings come from `--config` (its `report:` section and its dataset/model/strategy order) and
can be overridden by flags; the Snakemake rules pass the same values as params.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from vlmrec.layout import Layout, cells, table_features
from vlmrec.report.cells import METRICS_FILE, discover_metrics
from vlmrec.report.table import TableOrder


def _settings(args: argparse.Namespace) -> Any:
    """ReportSettings: each flag given, else the config's (validated: defaults filled by the
    schema), else the library's defaults when no --config is given."""
    from vlmrec.report.aggregate import ReportSettings

    config = _config(args)
    values = dict(config.get("report", {}), seed=config.get("seed"))
    flags = {
        "metrics": args.metric,
        "k": args.k,
        "baseline_feature": args.baseline,
        "alpha": args.alpha,
        "bootstrap_samples": args.bootstrap_samples,
        "seed": args.seed,
    }
    values.update({key: value for key, value in flags.items() if value is not None})
    return ReportSettings(**{key: values[key] for key in flags if values.get(key) is not None})


def _config(args: argparse.Namespace) -> dict[str, Any]:
    if getattr(args, "config", None) is None:
        return {}
    from vlmrec.config import load_config

    return load_config(args.config)


def _order(config: dict[str, Any]) -> TableOrder:
    if not config:
        return TableOrder()
    return TableOrder(
        datasets=list(config["datasets"]), models=list(config["models"]), features=table_features(config)
    )


def _missing_cells(config: dict[str, Any], results: Path) -> list[tuple[str, str, str]]:
    """Cells of the config's experiment without a metrics.json yet (the workflow's list, CELLS)."""
    if not config:
        return []
    layout = Layout(str(results))
    return [cell for cell in cells(config) if not Path(layout.cell_file(*cell, "metrics")).exists()]


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="workflow config whose report: section to use")
    parser.add_argument("--results-dir", type=Path, default=Path("results"), help="default: results")
    parser.add_argument("--metric", action="append", help="metric column (repeatable; default from config)")
    parser.add_argument("--k", action="append", type=int, help="cut-off (repeatable; default from config)")


def _run_aggregate(args: argparse.Namespace) -> int:
    from vlmrec.report.aggregate import AggregateOutputs, aggregate

    metrics_files = args.metrics_files or discover_metrics(args.results_dir)
    # Not results/partial: that is the Snakemake rule's output, and a file written outside Snakemake
    # has no provenance record, so `snakemake partial_table` would then never refresh it.
    out = args.out_dir or (args.results_dir / "partial_cli" if args.partial else args.results_dir)
    outputs = AggregateOutputs(**{name: Path(path) for name, path in Layout(str(out)).table_files().items()})
    config = _config(args)
    missing = _missing_cells(config, args.results_dir) if args.partial else []
    tidy = aggregate(metrics_files, outputs, _settings(args), _order(config), missing)
    print(f"{len(tidy)} rows from {len(metrics_files)} cells ({len(missing)} pending) -> {outputs.md}")
    return 0


def _run_plots(args: argparse.Namespace) -> int:
    from vlmrec.report.plots import PLOT_KINDS, make_dataset_plots

    settings = _settings(args)
    results = args.results_dir
    metrics_files = [p for p in discover_metrics(results) if p.parts[-5] == args.dataset]
    layout = Layout(str(results))
    manifests = sorted(Path(layout.feature_dir(args.dataset, ".")).glob("*/manifest.json"))
    out = args.out_dir or Path(layout.plot_file(args.dataset, "x", "png")).parent
    outputs = {kind: (out / f"{kind}.png", out / f"{kind}.svg") for kind in PLOT_KINDS}
    written = make_dataset_plots(
        args.dataset,
        metrics_files,
        manifests,
        outputs,
        settings.metrics[0],
        settings.k[0],
        _order(_config(args)),
        table_csv=layout.table_file("csv"),  # the dot plot's † marks, when aggregate has run
        baseline=settings.baseline_feature,
    )
    print(f"wrote {len(written)} files to {out}")
    return 0


def _run_paper(args: argparse.Namespace) -> int:
    from vlmrec.report.paper import write_paper_comparison

    config = _config(args)
    settings = _settings(args)
    layout = Layout(str(args.results_dir))
    table = args.table or Path(layout.table_file("csv"))
    output = args.output or Path(layout.paper_comparison())
    paper_table = config.get("report", {}).get("paper_table", {})
    order = _order(config)
    title = config.get("report", {}).get("paper_title", "the paper's Table 2")
    write_paper_comparison(
        table, output, paper_table, settings.metrics, order.datasets, order.models, title=title
    )
    print(f"wrote {output}")
    return 0


def register(subparsers: Any) -> None:
    agg = subparsers.add_parser(
        "aggregate",
        help="comparison table + significance from finished cells",
        description="Build table.csv/md/tex/html and significance.csv from cell directories "
        f"({METRICS_FILE}, per_user_test.parquet).",
    )
    _add_common(agg)
    agg.add_argument(
        "--metrics-files", nargs="+", type=Path, help="cells to use (default: every finished one)"
    )
    agg.add_argument(
        "--out-dir", type=Path, help="default: RESULTS_DIR, or RESULTS_DIR/partial_cli with --partial"
    )
    agg.add_argument("--partial", action="store_true", help="finished cells only, others pending (long runs)")
    agg.add_argument("--baseline", help="feature the others are compared with (default: original)")
    agg.add_argument("--alpha", type=float, help="significance level (default 0.05)")
    agg.add_argument("--bootstrap-samples", type=int, help="bootstrap resamples (default 2000)")
    agg.add_argument("--seed", type=int, help="bootstrap seed (default: config seed)")
    agg.set_defaults(func=_run_aggregate)

    plots = subparsers.add_parser("plots", help="figures of one dataset (PNG + SVG)")
    _add_common(plots)
    plots.add_argument("--dataset", required=True)
    plots.add_argument("--out-dir", type=Path, help="default: RESULTS_DIR/plots/DATASET")
    plots.set_defaults(func=_run_plots, baseline=None, alpha=None, bootstrap_samples=None, seed=None)

    paper = subparsers.add_parser("paper-comparison", help="our table next to the paper's Table 2")
    _add_common(paper)
    paper.add_argument("--table", type=Path, help="tidy table (default: RESULTS_DIR/table.csv)")
    paper.add_argument("--output", type=Path, help="default: RESULTS_DIR/paper_comparison.md")
    paper.set_defaults(func=_run_paper, baseline=None, alpha=None, bootstrap_samples=None, seed=None)
