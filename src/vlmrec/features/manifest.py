"""Feature-set I/O: the items table in, modality matrices + manifest.json out and back.

(docs/ARCHITECTURE.md, "Feature stage".) The manifest is written last, so a directory with a
manifest is a finished feature set. Every matrix is checked before anything is written: float32,
`n_items` rows, all finite. Readers (training, report) use `load_feature_set`.
"""

from __future__ import annotations

import hashlib
import platform
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vlmrec.features.specs import MANIFEST_NAME
from vlmrec.utils.io import content_hash, read_json, save_npy, write_json

if TYPE_CHECKING:
    import pandas as pd

    from vlmrec.features.specs import StrategySpec

__all__ = ["MANIFEST_NAME", "load_feature_set", "read_items", "read_manifest", "write_feature_set"]
# Bump when the meaning of stored vectors changes without any parameter changing.
FORMAT_VERSION = 1
# Parameters that change neither the vectors nor their order (batching, decoding workers).
NON_CONTENT_KEYS = frozenset({"batch_size", "num_workers"})
LIBRARIES = ("numpy", "torch", "transformers", "peft", "sentence-transformers", "pandas", "pillow")


def prompt_hash(prompt: str | None) -> str | None:
    return None if prompt is None else hashlib.sha256(prompt.encode()).hexdigest()[:16]


def content_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """`params` without the keys that cannot change the vectors (so they do not bust caches)."""

    def strip(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: strip(v) for k, v in value.items() if k not in NON_CONTENT_KEYS}
        return value

    return strip(dict(params))


def feature_content_hash(items_digest: str, strategy: str, params: Mapping[str, Any], *extra: Any) -> str:
    """The content key of a feature set (or of one encoder's shard cache)."""
    return content_hash(FORMAT_VERSION, items_digest, strategy, content_params(params), *extra)


def library_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def check_matrix(name: str, array: np.ndarray, n_items: int) -> np.ndarray:
    """The final check of the stage: 2-D, n_items rows, every value finite; returns float32."""
    array = np.asarray(array)
    if array.ndim != 2:
        raise RuntimeError(f"feature matrix {name!r} has shape {array.shape}, expected [n_items, d]")
    if array.shape[0] != n_items:
        raise RuntimeError(f"feature matrix {name!r} has {array.shape[0]} rows, items.parquet has {n_items}")
    array = array.astype(np.float32, copy=False)
    finite = np.isfinite(array).all(axis=1)
    if not finite.all():
        bad = np.flatnonzero(~finite)[:10].tolist()
        raise RuntimeError(f"feature matrix {name!r} has non-finite rows (item ids {bad} ...)")
    return array


def write_feature_set(
    out_dir: str | Path,
    spec: StrategySpec,
    arrays: Mapping[str, np.ndarray],
    *,
    n_items: int,
    fields: Mapping[str, Any],
    items_digest: str,
    params: Mapping[str, Any],
    wall_time_s: float,
) -> dict[str, Any]:
    """Check and write `arrays` (modality -> matrix) and the manifest; return the manifest."""
    out_dir = Path(out_dir)
    if set(arrays) != set(spec.modalities):
        raise RuntimeError(
            f"strategy {spec.name!r} produced modalities {sorted(arrays)}, declared {list(spec.modalities)}"
        )
    checked = {name: check_matrix(name, arrays[name], n_items) for name in spec.modalities}
    for name, array in checked.items():
        save_npy(out_dir / f"{name}.npy", array)
    prompt = fields.get("prompt")
    manifest: dict[str, Any] = {
        "strategy": spec.name,
        "modalities": {name: {"file": f"{name}.npy", "dim": int(a.shape[1])} for name, a in checked.items()},
        "model": None,
        "revision": None,
        "adapter": None,
        "dtype": None,
        "prompt": None,
        "n_items": n_items,
        "missing_images": 0,
        "missing_policy": None,
        "device": None,
    }
    manifest.update(fields)
    manifest.update(
        {
            "prompt_hash": prompt_hash(prompt),
            "items_sha256": items_digest,
            "params": dict(params),
            "content_hash": feature_content_hash(items_digest, spec.name, params, fields.get("sources")),
            "library_versions": library_versions(),
            "wall_time_s": round(float(wall_time_s), 3),
        }
    )
    write_json(out_dir / MANIFEST_NAME, manifest)
    return manifest


def read_manifest(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / MANIFEST_NAME
    if not path.exists():
        raise FileNotFoundError(f"feature-set manifest not found: {path}")
    manifest = read_json(path)
    if "modalities" not in manifest:
        raise ValueError(f"{path}: no 'modalities' key")
    return manifest


def load_feature_set(directory: str | Path) -> dict[str, np.ndarray]:
    """Modality name -> float32 matrix of a feature-set directory (as listed in its manifest)."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    arrays = {}
    for modality, entry in manifest["modalities"].items():
        path = directory / entry["file"]
        if not path.exists():
            raise FileNotFoundError(f"{path} listed in {directory / MANIFEST_NAME} is missing")
        arrays[modality] = np.load(path).astype(np.float32, copy=False)
    return arrays


def read_items(items_path: str | Path) -> pd.DataFrame:
    """Read items.parquet and check the contract: row i is item i."""
    import pandas as pd

    items_path = Path(items_path)
    if not items_path.exists():
        raise FileNotFoundError(f"items table not found: {items_path}")
    items = pd.read_parquet(items_path)
    for column in ("item_id", "text", "image_path"):
        if column not in items.columns:
            raise ValueError(f"{items_path}: column {column!r} missing (see docs/ARCHITECTURE.md)")
    expected = np.arange(len(items))
    if not np.array_equal(items["item_id"].to_numpy(), expected):
        raise ValueError(f"{items_path}: item_id must be 0..n_items-1 in row order")
    return items
