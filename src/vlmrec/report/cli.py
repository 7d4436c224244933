"""`python -m vlmrec aggregate | plots | paper-comparison`: the report steps without Snakemake.

Settings come from `--config` (its `report:` section and its dataset/model/strategy order) and
can be overridden by flags; the Snakemake rules pass the same values as params.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from vlmrec.report.cells import METRICS_FILE, discover_metrics
from vlmrec.report.labels import ID_FEATURE
from vlmrec.report.table import TableOrder


def _settings(args: argparse.Namespace) -> Any:
    from vlmrec.report.aggregate import ReportSettings

    config = _config(args)
    report = config.get("report", {})
    return ReportSettings(
        metrics=args.metric or report.get("metrics", ("recall", "ndcg", "precision")),
        k=args.k or report.get("k", (20,)),
        baseline_feature=args.baseline or report.get("baseline_feature", "original"),
        alpha=args.alpha if args.alpha is not None else report.get("alpha", 0.05),
        bootstrap_samples=args.bootstrap_samples or report.get("bootstrap_samples", 2000),
        seed=args.seed if args.seed is not None else config.get("seed", 999),
    )


def _config(args: argparse.Namespace) -> dict[str, Any]:
    if getattr(args, "config", None) is None:
        return {}
    from vlmrec.config import load_config

    return load_config(args.config)


def _order(config: dict[str, Any]) -> TableOrder:
    return TableOrder(
        datasets=list(config.get("datasets", {})),
        models=list(config.get("models", {})),
        features=list(config.get("features", {}).get("strategies", [])),
    )


def _missing_cells(config: dict[str, Any], results: Path) -> list[tuple[str, str, str]]:
    """Cells of the config's experiment without a metrics.json yet (as common.smk's cells())."""
    strategies = config.get("features", {}).get("strategies", [])
    expected = [
        (dataset, model, feature)
        for dataset in config.get("datasets", {})
        for model, entry in config.get("models", {}).items()
        for feature in (strategies if entry.get("features") else [ID_FEATURE])
    ]
    return [
        cell
        for cell in expected
        if not (results.joinpath(*cell[:1], "runs", *cell[1:]) / METRICS_FILE).exists()
    ]


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
    outputs = AggregateOutputs(
        csv=out / "table.csv",
        md=out / "table.md",
        tex=out / "table.tex",
        html=out / "table.html",
        significance=out / "significance.csv",
    )
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
    manifests = sorted((results / args.dataset / "features").glob("*/manifest.json"))
    out = args.out_dir or results / "plots" / args.dataset
    outputs = {kind: (out / f"{kind}.png", out / f"{kind}.svg") for kind in PLOT_KINDS}
    written = make_dataset_plots(
        args.dataset,
        metrics_files,
        manifests,
        outputs,
        settings.metrics[0],
        settings.k[0],
        _order(_config(args)),
    )
    print(f"wrote {len(written)} files to {out}")
    return 0


def _run_paper(args: argparse.Namespace) -> int:
    from vlmrec.report.paper import write_paper_comparison

    config = _config(args)
    settings = _settings(args)
    table = args.table or args.results_dir / "table.csv"
    output = args.output or args.results_dir / "paper_comparison.md"
    paper_table = config.get("report", {}).get("paper_table", {})
    order = _order(config)
    write_paper_comparison(table, output, paper_table, settings.metrics, order.datasets, order.models)
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
