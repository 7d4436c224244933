"""Building feature sets: the build context, strategy lookup, `build_feature_set`.

Plan-time knowledge (names, specs, rule params) lives in the torch-free `specs.py`; feature-set
I/O (writing, reading, the items table) in `manifest.py`; the encoder factory in `factory.py`.
A strategy is either a module of `vlmrec.features.strategies` (its `build(ctx)`) or a
`features.declared` config entry (built by `strategies/_declared.py`); see `specs.py`.

The names below re-exported from those modules keep older imports working.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

from vlmrec.features.base import Encoder
from vlmrec.features.factory import default_encoder_factory
from vlmrec.features.manifest import load_feature_set, read_items, write_feature_set
from vlmrec.features.specs import (
    ENCODER_SECTIONS,
    RUNNER_KEYS,
    STRATEGIES_PACKAGE,
    StrategySpec,
    feature_set_files,
    spec_from_params,
    strategy_applies,
    strategy_params,
    strategy_spec,
    strategy_specs,
)
from vlmrec.utils.io import sha256_file

__all__ = [
    "ENCODER_SECTIONS",
    "RUNNER_KEYS",
    "BuildContext",
    "BuildResult",
    "StrategySpec",
    "all_specs",
    "build_feature_set",
    "default_encoder_factory",
    "feature_set_files",
    "get_spec",
    "load_feature_set",
    "read_items",
    "strategy_applies",
    "strategy_params",
]

log = logging.getLogger(__name__)

EncoderFactory = Callable[[str, Mapping[str, Any]], Encoder]
get_spec = strategy_spec
all_specs = strategy_specs


@dataclass
class BuildContext:
    """Everything a strategy's `build` may read. Paths are resolved by the caller."""

    strategy: str
    items: pd.DataFrame
    items_path: Path
    items_digest: str
    params: Mapping[str, Any]
    shards_root: Path
    raw_dir: Path | None = None
    reused_dirs: Mapping[str, Path] = field(default_factory=dict)
    encoder_factory: EncoderFactory | None = None

    @property
    def n_items(self) -> int:
        return len(self.items)

    def make_encoder(self, key: str) -> Encoder:
        """Instantiate the encoder whose settings are `params[key]` (lazily, on first need).

        Module strategies name their encoder by kind (`params["vlm2vec"]`); a declared strategy's
        settings (`params["encoder"]`) carry their `kind`.
        """
        factory = self.encoder_factory or default_encoder_factory
        settings = dict(self.params[key])
        kind = str(settings.pop("kind", key))
        return factory(kind, settings)


@dataclass
class BuildResult:
    arrays: dict[str, np.ndarray]
    manifest: dict[str, Any]


def strategy_module(spec: StrategySpec) -> ModuleType:
    """The module whose `build(ctx)` builds `spec`."""
    name = "_declared" if spec.declared else spec.name
    return importlib.import_module(f"{STRATEGIES_PACKAGE}.{name}")


def build_feature_set(
    strategy: str,
    items_path: str | Path,
    out_dir: str | Path,
    params: Mapping[str, Any],
    *,
    shards_root: str | Path | None = None,
    raw_dir: str | Path | None = None,
    reused_dirs: Mapping[str, str | Path] | None = None,
    encoder_factory: EncoderFactory | None = None,
) -> dict[str, Any]:
    """Build one feature set into `out_dir` (modality .npy files + manifest.json); return the manifest.

    `params` are the strategy's rule params (`strategy_params`); a declared strategy's carry its
    entry and encoder, so no config file is needed here. `shards_root` holds the resumable
    per-shard cache (outside Snakemake's output paths, which Snakemake deletes when a job
    fails); default `<out_dir>/../.shards`.
    """
    started = time.perf_counter()
    spec = spec_from_params(strategy, params)
    items_path = Path(items_path)
    out_dir = Path(out_dir)
    items = read_items(items_path)
    ctx = BuildContext(
        strategy=strategy,
        items=items,
        items_path=items_path,
        items_digest=sha256_file(items_path),
        params=dict(params),
        shards_root=Path(shards_root) if shards_root is not None else out_dir.parent / ".shards",
        raw_dir=Path(raw_dir) if raw_dir is not None else None,
        reused_dirs={k: Path(v) for k, v in (reused_dirs or {}).items()},
        encoder_factory=encoder_factory,
    )
    missing_reuse = [name for name in spec.reuses if name not in ctx.reused_dirs]
    if missing_reuse:
        raise ValueError(f"strategy {strategy!r} needs the feature sets {missing_reuse} (reused_dirs)")
    log.info("building feature set %s for %d items from %s", strategy, len(items), items_path)
    result = strategy_module(spec).build(ctx)
    manifest = write_feature_set(
        out_dir,
        spec,
        result.arrays,
        n_items=len(items),
        fields=result.manifest,
        items_digest=ctx.items_digest,
        params=ctx.params,
        wall_time_s=time.perf_counter() - started,
    )
    log.info("wrote %s (%s) in %.1f s", out_dir, ", ".join(manifest["modalities"]), manifest["wall_time_s"])
    return manifest
