"""Fixtures of the feature tests; the fakes live in feature_fakes.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from feature_fakes import make_items


@pytest.fixture()
def items_path(tmp_path: Path) -> Path:
    return make_items(tmp_path / "results" / "ds")


@pytest.fixture()
def features_config() -> dict[str, Any]:
    """The features section of config/config.yaml with small runner settings."""
    import yaml

    from vlmrec.config import REPO_ROOT

    config = yaml.safe_load((REPO_ROOT / "config" / "config.yaml").read_text())["features"]
    config["vlm2vec"].update({"shard_size": 5, "batch_size": 2, "num_workers": 0})
    return config
