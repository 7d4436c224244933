"""`python -m vlmrec <step> ...`: every workflow step, runnable without Snakemake.

Each stage package contributes its sub-commands through a `register(subparsers)` function in
its `cli` module; the Snakemake scripts call the same library functions as these commands.
"""

from __future__ import annotations

import argparse
import importlib
import sys

STAGE_CLI_MODULES = (
    "vlmrec.data.cli",
    "vlmrec.features.cli",
    "vlmrec.training.cli",
    "vlmrec.report.cli",
    "vlmrec.serving",  # evaluate, recommend (from a cell's best.pt)
    "vlmrec.report.html",  # tidy-report (one rule-graph node per rule)
    "vlmrec.report.readme",  # readme-figures (make readme-figures)
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m vlmrec",
        description="vlmrec workflow steps (the Snakemake rules call the same functions).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="<step>", required=True)
    for module_name in STAGE_CLI_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # stage not installed in this build
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return int(result or 0)
