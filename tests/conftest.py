"""Shared fixtures: paths to the real Amazon Baby sample in ../shared (skipped when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("VLMREC_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
BABY_INTER = SHARED_DATA / "amazon-baby-mmrec" / "baby-first-users.inter"

# Tests run with one torch thread: results do not depend on the machine's core count, and
# parallel test processes do not oversubscribe the two CI cores.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def baby_inter_path() -> Path:
    if not BABY_INTER.exists():
        pytest.skip(f"real Amazon Baby sample not found at {BABY_INTER} (../shared/data is optional)")
    return BABY_INTER
