"""The ONE registry of feature strategies.

A strategy is one module in `vlmrec.features.strategies` exposing

* `SPEC: StrategySpec` — its name, the modalities it writes, whether it runs an encoder (a GPU
  rule) or reuses other feature sets / raw files, and which config keys are its parameters;
* `build(ctx: BuildContext) -> BuildResult` — the modality matrices (row i = item i) plus the
  manifest fields it knows (model, prompt, missing images, ...).

Adding a strategy = one new module + its name in `STRATEGY_MODULES` + one config entry. The
Snakemake rules (`workflow/rules/features.smk`) are generated from this registry, and the
parameters each rule tracks come from `strategy_params`, so a config edit reruns exactly the
strategies that read the edited key.
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
from vlmrec.features.manifest import MANIFEST_NAME, read_manifest, write_feature_set
from vlmrec.utils.io import sha256_file

log = logging.getLogger(__name__)

# Strategy name -> module under vlmrec.features.strategies (one file each).
STRATEGY_MODULES: dict[str, str] = {
    "visual": "visual",
    "textual": "textual",
    "prompt1": "prompt1",
    "prompt2": "prompt2",
    "dual": "dual",
    "dual_concat": "dual_concat",
    "original": "original",
    "provided": "provided",
    "mmrec_original": "mmrec_original",
}

# Encoder kinds a strategy may ask the factory for; settings come from these config sections.
ENCODER_SECTIONS = {
    "vlm2vec": "vlm2vec",
    "resnet": "resnet",
    "text": "text_encoder",
    "mmrec_text": "mmrec_text_encoder",
}

# Runner settings (sharding, image-decoding workers) are shared by every encoded strategy and
# live in features.vlm2vec for historical reasons; see docs/features.md.
RUNNER_KEYS = ("shard_size", "num_workers")


@dataclass(frozen=True)
class StrategySpec:
    """What the workflow needs to know about a strategy without running it."""

    name: str
    modalities: tuple[str, ...]
    encodes: bool  # runs a neural encoder: a GPU-tagged rule
    description: str
    reuses: tuple[str, ...] = ()  # feature sets it is built from (no encoding)
    raw_inputs: tuple[str, ...] = ()  # files under results/{dataset}/raw/ it reads
    prompt_key: str | None = None  # key of features.prompts
    encoders: tuple[str, ...] = ()  # keys of ENCODER_SECTIONS it loads
    dataset_sources: tuple[str, ...] | None = None  # None: any dataset source
    required_dataset_keys: tuple[str, ...] = ()  # keys the dataset's config must have
    extra_params: tuple[str, ...] = ()  # other features.* keys it reads


EncoderFactory = Callable[[str, Mapping[str, Any]], Encoder]


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

    def make_encoder(self, kind: str) -> Encoder:
        """Instantiate an encoder of `kind` from this strategy's params (lazily, on first need)."""
        factory = self.encoder_factory or default_encoder_factory
        return factory(kind, self.params[kind])


@dataclass
class BuildResult:
    arrays: dict[str, np.ndarray]
    manifest: dict[str, Any]


def strategy_module(name: str) -> ModuleType:
    if name not in STRATEGY_MODULES:
        raise ValueError(
            f"unknown feature strategy {name!r} (features.strategies); known: {', '.join(STRATEGY_MODULES)}"
        )
    return importlib.import_module(f"vlmrec.features.strategies.{STRATEGY_MODULES[name]}")


def get_spec(name: str) -> StrategySpec:
    return strategy_module(name).SPEC


def all_specs() -> dict[str, StrategySpec]:
    return {name: get_spec(name) for name in STRATEGY_MODULES}


def feature_set_files(strategy: str) -> list[str]:
    """File names of a strategy's feature set (modality files, then manifest.json)."""
    return [f"{modality}.npy" for modality in get_spec(strategy).modalities] + [MANIFEST_NAME]


def strategy_applies(strategy: str, dataset_config: Mapping[str, Any]) -> bool:
    """Whether a strategy can be built for a dataset (`provided` needs an mmrec source,
    `mmrec_original` a dataset with `image_features_url`)."""
    spec = get_spec(strategy)
    if spec.dataset_sources is not None and dataset_config.get("source") not in spec.dataset_sources:
        return False
    return all(key in dataset_config for key in spec.required_dataset_keys)


def strategy_params(strategy: str, features_config: Mapping[str, Any]) -> dict[str, Any]:
    """The config values a strategy reads, as Snakemake `params:` (name -> value).

    Only what the strategy reads is returned, so editing one prompt changes one rule's params.
    """
    spec = get_spec(strategy)
    params: dict[str, Any] = {}
    if spec.prompt_key is not None:
        prompts = features_config.get("prompts", {})
        if spec.prompt_key not in prompts:
            raise ValueError(f"features.prompts.{spec.prompt_key} is required by strategy {strategy!r}")
        params["prompt"] = prompts[spec.prompt_key]
    for kind in spec.encoders:
        section = ENCODER_SECTIONS[kind]
        settings = dict(features_config.get(section) or {})
        if "model" not in settings:
            raise ValueError(f"features.{section}.model is required by strategy {strategy!r}")
        # The runner keys are not encoder settings; they are passed separately below.
        params[kind] = {k: v for k, v in settings.items() if k not in RUNNER_KEYS}
    if spec.encoders:
        vlm = features_config.get("vlm2vec") or {}
        params["runner"] = {
            "shard_size": vlm.get("shard_size", 2048),
            "num_workers": vlm.get("num_workers", 4),
        }
    for key in spec.extra_params:
        params[key] = features_config.get(key, _EXTRA_DEFAULTS[key])
    return params


_EXTRA_DEFAULTS: dict[str, Any] = {"missing_image_fused": "text_only"}


def default_encoder_factory(kind: str, settings: Mapping[str, Any]) -> Encoder:
    """Build the real encoder for `kind` (imported lazily: torch/transformers are heavy)."""
    settings = dict(settings)
    if kind == "vlm2vec":
        from vlmrec.features.vlm2vec import VLM2VecEncoder

        return VLM2VecEncoder(**settings)
    if kind == "resnet":
        from vlmrec.features.baselines import ResNetImageEncoder

        return ResNetImageEncoder(**settings)
    if kind in ("text", "mmrec_text"):
        from vlmrec.features.baselines import HFTextEncoder

        return HFTextEncoder(**settings)
    raise ValueError(f"unknown encoder kind {kind!r}")


def read_items(items_path: str | Path) -> pd.DataFrame:
    """Read items.parquet and check the contract: row i is item i."""
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

    `shards_root` holds the resumable per-shard cache (outside Snakemake's output paths, which
    Snakemake deletes when a job fails); default `<out_dir>/../.shards`.
    """
    started = time.perf_counter()
    spec = get_spec(strategy)
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
    result = strategy_module(strategy).build(ctx)
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
