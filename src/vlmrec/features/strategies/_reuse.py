"""Helpers for strategies built from other feature sets (dual, dual_concat)."""

from __future__ import annotations

from typing import Any

import numpy as np

from vlmrec.features.manifest import read_manifest
from vlmrec.features.registry import BuildContext, load_feature_set


def load_reused(ctx: BuildContext, strategy: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """A reused feature set and its manifest; refuses one built from another items.parquet."""
    directory = ctx.reused_dirs[strategy]
    manifest = read_manifest(directory)
    if manifest.get("items_sha256") not in (None, ctx.items_digest):
        raise ValueError(
            f"feature set {directory} was built from another items.parquet than {ctx.items_path}; rebuild it"
        )
    return load_feature_set(directory), manifest


def reuse_fields(manifests: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Manifest fields of a combined set: where each part came from, and the image side's counts."""
    visual = manifests["visual"]
    return {
        "model": visual.get("model"),
        "revision": visual.get("revision"),
        "adapter": visual.get("adapter"),
        "dtype": visual.get("dtype"),
        "device": None,
        "prompt": None,
        "missing_images": visual.get("missing_images", 0),
        "missing_policy": visual.get("missing_policy"),
        "sources": {name: m.get("content_hash") for name, m in manifests.items()},
        "source_prompts": {name: m.get("prompt") for name, m in manifests.items()},
    }
