"""``python -m vlmrec train``: one (dataset, model, feature) cell without Snakemake.

By default the whole grid runs in this process (like ``grid_jobs: single``). ``--point`` runs one
grid point into the cell's ``points/`` folder and ``--select`` turns the finished points into the
cell outputs: the two steps of ``grid_jobs: separate``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from vlmrec.config import load_config
from vlmrec.layout import NO_FEATURE, Layout, layout_of, model_strategies
from vlmrec.training.points import point_by_name, point_names
from vlmrec.utils.cli import add_documented_parser
from vlmrec.utils.logs import setup_logging


def register(subparsers: argparse._SubParsersAction) -> None:
    helptext = "train one (dataset, model, feature) cell: its grid, seeds and selection"
    parser = add_documented_parser(subparsers, "train", helptext, __doc__)
    parser.add_argument("--config", default="config/config.yaml", help="workflow config (validated)")
    parser.add_argument("--dataset", required=True, help="dataset name (a key of `datasets`)")
    parser.add_argument("--model", required=True, help="model name (a key of `models`)")
    parser.add_argument("--feature", default=NO_FEATURE, help=f"strategy, or '{NO_FEATURE}' (ID-only)")
    parser.add_argument("--results-dir", help="default: the config's results_dir")
    parser.add_argument("--interactions", help="interactions.parquet or MMRec .inter (default: data stage's)")
    parser.add_argument("--features-dir", help="feature set (default: results/<dataset>/features/<feature>)")
    parser.add_argument("--out", help="cell folder (default: results/<dataset>/runs/<model>/<feature>)")
    step = parser.add_mutually_exclusive_group()
    step.add_argument("--point", help="run only this grid point (see --list-points) into <out>/points/")
    step.add_argument("--select", action="store_true", help="only select the winner from <out>/points/")
    step.add_argument("--list-points", action="store_true", help="print the grid's point names and exit")
    parser.add_argument("--epochs", type=int, help="override training.epochs")
    parser.add_argument("--seeds", type=int, nargs="+", help="override training.seeds")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], help="override training.device")
    parser.add_argument("--select-on", choices=["valid", "test"], help="override training.select_on")
    parser.add_argument("--log", help="also log to this file")
    parser.set_defaults(func=run)


def _training_section(config: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    training = dict(config["training"])
    overrides = {
        "epochs": args.epochs,
        "seeds": args.seeds,
        "device": args.device,
        "select_on": args.select_on,
    }
    training.update({key: value for key, value in overrides.items() if value is not None})
    return training


def _check_names(config: dict[str, Any], args: argparse.Namespace) -> None:
    """An unknown dataset, model or feature names the configured ones."""
    for kind, name, known in (
        ("datasets", args.dataset, list(config["datasets"])),
        ("models", args.model, list(config["models"])),
    ):
        if name not in known:
            raise ValueError(
                f"{args.config}: {kind}.{name} is not configured; configured: {', '.join(known)}"
            )
    features = model_strategies(config, args.model)
    if args.feature not in features:
        raise ValueError(f"--feature {args.feature}: {args.model} trains on {', '.join(features)}")


def run(args: argparse.Namespace) -> int:
    from vlmrec.training.grid import PointFiles, cell_files, cell_job, point_job, select_cell

    setup_logging(args.log)
    config = load_config(args.config)
    _check_names(config, args)
    model_config = config["models"][args.model]
    grid = model_config["grid"]
    if args.list_points:
        print("\n".join(point_names(grid)))
        return 0
    layout = Layout(args.results_dir) if args.results_dir else layout_of(config)
    cell = (args.dataset, args.model, args.feature)
    out_dir = Path(args.out or layout.cell_dir(*cell))
    interactions = args.interactions or layout.data_file(args.dataset, "interactions")
    feature_dir = None
    if args.feature != NO_FEATURE:
        feature_dir = args.features_dir or layout.feature_dir(args.dataset, args.feature)
    training = _training_section(config, args)
    meta = {"dataset": args.dataset, "feature": args.feature}
    points_dir = out_dir / "points"
    cell_out = cell_files(out_dir)
    if args.point:
        point = point_by_name(grid, args.point)
        out = PointFiles.in_dir(points_dir, args.point)
        point_job(interactions, feature_dir, args.model, model_config["params"], point, training, out, meta)
    elif args.select:
        points = [PointFiles.in_dir(points_dir, name) for name in point_names(grid)]
        missing = [str(p.result) for p in points if not p.result.exists()]
        if missing:
            raise FileNotFoundError(f"grid points not finished: {', '.join(missing)}")
        select_cell(points, cell_out, training["select_on"], training["valid_metric"], meta)
    else:
        params = model_config["params"]
        cell_job(interactions, feature_dir, args.model, params, grid, training, cell_out, meta)
    return 0
