"""Feature-stage commands: `python -m vlmrec build-tiny-models | extract | combine | export-mmrec`.

They call the same library functions as the Snakemake scripts, with the same parameters
(`strategy_params` of the config file), and use the workflow's result layout.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from vlmrec.utils.logs import setup_logging


def register(subparsers: argparse._SubParsersAction) -> None:
    tiny = subparsers.add_parser("build-tiny-models", help="build the tiny offline stand-in models")
    tiny.add_argument("--out-dir", default="resources/models", help="folder for the tiny model dirs")
    tiny.add_argument("--seed", type=int, default=999)
    tiny.add_argument("--log", default=None, help="log file (default: stderr only)")
    tiny.set_defaults(func=_build_tiny_models)

    for name, helptext in (
        ("extract", "build one encoded feature set (visual, prompt2, original, declared ones, ...)"),
        ("combine", "build one feature set from others (dual, dual_concat) without encoding"),
    ):
        sub = subparsers.add_parser(name, help=helptext)
        _feature_arguments(sub)
        sub.set_defaults(func=_extract, encodes=name == "extract")

    export = subparsers.add_parser("export-mmrec", help="write a feature set in MMRec's data-folder format")
    export.add_argument("--dataset", required=True)
    export.add_argument("--strategy", required=True)
    export.add_argument("--results-dir", default="results")
    export.add_argument("--out-dir", default=None, help="default <results>/<dataset>/mmrec/<strategy>")
    export.add_argument("--log", default=None)
    export.set_defaults(func=_export)


def _feature_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="workflow config (config/config.yaml or demo.yaml)")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--strategy", required=True)
    parser.add_argument("--results-dir", default=None, help="default: the config's results_dir")
    parser.add_argument("--log", default=None)


def _build_tiny_models(args: argparse.Namespace) -> int:
    setup_logging(args.log)
    from vlmrec.features.tiny_models import build_tiny_models

    for name, path in build_tiny_models(args.out_dir, seed=args.seed).items():
        print(f"{name}: {path}")
    return 0


def _extract(args: argparse.Namespace) -> int:
    setup_logging(args.log)
    from vlmrec.config import load_config
    from vlmrec.features.registry import build_feature_set
    from vlmrec.features.specs import strategy_params, strategy_spec

    config = load_config(args.config)
    spec = strategy_spec(args.strategy, config["features"])
    if spec.encodes != args.encodes:
        command = "extract" if spec.encodes else "combine"
        raise ValueError(f"strategy {args.strategy!r} is built with `{command}`")
    if args.dataset not in config["datasets"]:
        raise ValueError(f"dataset {args.dataset!r} is not in {args.config} (datasets)")
    results = Path(args.results_dir or config.get("results_dir", "results")) / args.dataset
    features = results / "features"
    manifest: dict[str, Any] = build_feature_set(
        args.strategy,
        results / "items.parquet",
        features / args.strategy,
        strategy_params(args.strategy, config["features"]),
        shards_root=features / ".shards",
        raw_dir=results / "raw",
        reused_dirs={name: features / name for name in spec.reuses},
    )
    dims = ", ".join(f"{m}={e['dim']}" for m, e in manifest["modalities"].items())
    print(f"{features / args.strategy}: {manifest['n_items']} items, {dims}")
    return 0


def _export(args: argparse.Namespace) -> int:
    setup_logging(args.log)
    from vlmrec.features.export import export_mmrec

    results = Path(args.results_dir) / args.dataset
    out_dir = Path(args.out_dir) if args.out_dir else results / "mmrec" / args.strategy
    export_mmrec(
        results / "interactions.parquet", results / "features" / args.strategy, out_dir, args.dataset
    )
    print(out_dir)
    return 0
