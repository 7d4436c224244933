"""What the ``python -m vlmrec`` subcommands share when they register themselves."""

from __future__ import annotations

import argparse


def add_documented_parser(
    subparsers: argparse._SubParsersAction, name: str, helptext: str, doc: str | None
) -> argparse.ArgumentParser:
    """A subcommand whose ``--help`` shows ``doc`` (its module docstring) with its line breaks kept."""
    return subparsers.add_parser(
        name, help=helptext, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
