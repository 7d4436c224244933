"""Logging set-up shared by the CLI and the Snakemake scripts (one log file per job)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(log_file: str | Path | None = None, level: int = logging.INFO) -> logging.Logger:
    """Log to stderr and, when given, to `log_file` (created with its folder)."""
    root = logging.getLogger()
    root.setLevel(level)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(stream)
    if log_file is not None:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(log_file, mode="w", encoding="utf-8")
        file_handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(file_handler)
    logging.captureWarnings(True)
    return logging.getLogger("vlmrec")


@contextmanager
def snakemake_job(smk: Any) -> Iterator[logging.Logger]:
    """The one wrapper of every workflow script: log to the job's log file, and put the traceback
    of any failure there too (Snakemake shows the job's log; stderr is easily lost on a cluster).

        with snakemake_job(snakemake):
            from vlmrec.x import y  # heavy imports inside: an ImportError is logged as well
            y(...)
    """
    logger = setup_logging(smk.log[0] if len(smk.log) else None)
    try:
        yield logger
    except BaseException:
        logger.exception("rule %s failed", getattr(smk, "rule", "?"))
        raise
