"""Plan-time knowledge of the feature strategies: names, specs, rule params. Torch-free.

Snakemake's scheduler, config validation and the report import this module; it imports neither
torch, numpy nor pandas (a test checks), so planning a workflow never loads a deep-learning stack.

Two sources of strategies, one namespace:

* **module strategies**: every public module of `vlmrec.features.strategies` (found by a package
  scan) that defines `SPEC` (a `StrategySpec` whose name is the module name) and `build(ctx)`;
* **declared strategies**: entries of `features.declared` in the config, each built from an
  encoder of `features.encoders` — no code:

      features:
        encoders:
          clip_l14: {kind: clip, model: openai/clip-vit-large-patch14}
        declared:
          clip_mean: {encoder: clip_l14, inputs: both, fusion: mean}
        strategies: [original, clip_mean]

`features.strategies` lists the ones to build and train on.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from vlmrec.config import schema_default

STRATEGIES_PACKAGE = "vlmrec.features.strategies"
MANIFEST_NAME = "manifest.json"

# Encoder kinds a module strategy may load (`StrategySpec.encoders`) -> the features.* config
# section holding its settings (the paper's encoders, kept at their historical keys).
ENCODER_SECTIONS = {
    "vlm2vec": "vlm2vec",
    "resnet": "resnet",
    "text": "text_encoder",
    "mmrec_text": "mmrec_text_encoder",
}
# Runner settings (sharding, image-decoding workers) are shared by every encoded strategy and live
# in features.vlm2vec for historical reasons (docs/features.md).
RUNNER_KEYS = ("shard_size", "num_workers")

# Kinds of `features.encoders.<name>.kind` and which inputs each can encode ("joint": image and
# text in one prompt, one fused vector; only VLM2Vec does that).
ENCODER_KINDS: dict[str, frozenset[str]] = {
    "vlm2vec": frozenset({"image", "text", "joint"}),
    "clip": frozenset({"image", "text"}),
    "siglip": frozenset({"image", "text"}),
    "blip": frozenset({"image", "text"}),
    "hf_image": frozenset({"image"}),
    "hf_text": frozenset({"text"}),
    "sentence_transformers": frozenset({"text"}),
}
INPUTS = ("image", "text", "both")
FUSIONS = ("none", "concat", "mean", "joint")
IMAGE_TOKEN = "<|image_pad|>"  # VLM2Vec's Qwen2-VL image placeholder
TEXT_FIELD = "{text}"
DEFAULT_TEMPLATE = TEXT_FIELD


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
    encoders: tuple[str, ...] = ()  # keys of ENCODER_SECTIONS it loads (module strategies)
    dataset_sources: tuple[str, ...] | None = None  # None: any dataset source
    required_dataset_keys: tuple[str, ...] = ()  # keys the dataset's config must have
    extra_params: tuple[str, ...] = ()  # other features.* keys it reads
    needs_text: bool = False  # reads items.text (or other text columns)
    needs_images: bool = False  # reads item images (items.image_path)
    encoder: str | None = None  # declared strategies: the features.encoders key it runs
    declared: bool = False  # from features.declared (config), not a module

    @property
    def files(self) -> list[str]:
        """File names of its feature set: modality .npy files, then manifest.json."""
        return [f"{modality}.npy" for modality in self.modalities] + [MANIFEST_NAME]


# --------------------------------------------------------------------------------------------
# Module strategies (package scan)


@cache
def module_specs() -> dict[str, StrategySpec]:
    """name -> SPEC of every public module of vlmrec.features.strategies (sorted by name)."""
    package = importlib.import_module(STRATEGIES_PACKAGE)
    specs: dict[str, StrategySpec] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{STRATEGIES_PACKAGE}.{info.name}")
        spec = getattr(module, "SPEC", None)
        if not isinstance(spec, StrategySpec) or not callable(getattr(module, "build", None)):
            raise TypeError(f"{module.__name__} must define SPEC (a StrategySpec) and build(ctx)")
        if spec.name != info.name:
            raise ValueError(f"{module.__name__}: SPEC.name is {spec.name!r}, must be the module name")
        specs[spec.name] = spec
    return specs


# --------------------------------------------------------------------------------------------
# Declared strategies (features.declared + features.encoders)


def declared_spec(name: str, entry: Mapping[str, Any], kind: str) -> StrategySpec:
    """The spec of a declared strategy; `kind` is its encoder's kind. Errors name the config key."""
    key = f"features.declared.{name}"
    if kind not in ENCODER_KINDS:
        raise ValueError(f"{key}: encoder kind {kind!r} is not one of {', '.join(ENCODER_KINDS)}")
    inputs = entry.get("inputs", "both")
    fusion = entry.get("fusion", "none")
    template = entry.get("template", DEFAULT_TEMPLATE)
    if inputs not in INPUTS:
        raise ValueError(f"{key}.inputs must be one of {', '.join(INPUTS)}, not {inputs!r}")
    if fusion not in FUSIONS:
        raise ValueError(f"{key}.fusion must be one of {', '.join(FUSIONS)}, not {fusion!r}")
    if fusion != "none" and inputs != "both":
        raise ValueError(f"{key}: fusion {fusion!r} needs inputs: both")
    wanted = {"joint"} if fusion == "joint" else ({"image", "text"} if inputs == "both" else {inputs})
    missing = sorted(wanted - ENCODER_KINDS[kind])
    if missing:
        raise ValueError(f"{key}: a {kind} encoder cannot encode {' or '.join(missing)} inputs")
    if not isinstance(template, str):
        raise ValueError(f"{key}.template must be a string")
    check_template(f"{key}.template", template, image=fusion == "joint", text=inputs != "image")
    if fusion in ("concat", "mean", "joint"):
        modalities: tuple[str, ...] = ("fused",)
    elif inputs == "both":
        modalities = ("image", "text")
    else:
        modalities = (inputs,)
    return StrategySpec(
        name=name,
        modalities=modalities,
        encodes=True,
        description=f"{entry['encoder']} ({kind}) over {inputs}, fusion {fusion}",
        extra_params=("missing_image_fused",) if fusion == "joint" else (),
        needs_text=inputs != "image",
        needs_images=inputs != "text",
        encoder=str(entry["encoder"]),
        declared=True,
    )


def check_template(where: str, template: str, *, image: bool, text: bool) -> None:
    """A prompt template carries one image placeholder iff `image`, and the {text} field when
    `text`; `where` (the config key) starts each message. Used at plan time and by the builders."""
    count = template.count(IMAGE_TOKEN)
    if image and count != 1:
        raise ValueError(f"{where} must contain {IMAGE_TOKEN} exactly once (found {count})")
    if not image and count:
        raise ValueError(f"{where} is text-only and must not contain {IMAGE_TOKEN}")
    if text and TEXT_FIELD not in template:
        raise ValueError(f"{where} must contain the field {TEXT_FIELD}")


def _declared_entries(features_config: Mapping[str, Any]) -> dict[str, tuple[Mapping[str, Any], str]]:
    """name -> (entry, encoder kind) of features.declared, with the encoder reference checked."""
    encoders = features_config.get("encoders") or {}
    out = {}
    for name, entry in (features_config.get("declared") or {}).items():
        encoder = entry.get("encoder")
        if encoder not in encoders:
            known = ", ".join(encoders) or "none"
            raise ValueError(
                f"features.declared.{name}.encoder {encoder!r} is not in features.encoders (known: {known})"
            )
        out[name] = (entry, str(encoders[encoder].get("kind")))
    return out


# --------------------------------------------------------------------------------------------
# The contract used by the workflow and by config validation


def strategy_specs(features_config: Mapping[str, Any] | None = None) -> dict[str, StrategySpec]:
    """Every KNOWN strategy (module strategies, then features.declared entries) -> its spec.

    Not only the selected ones (`features.strategies`): see `selected_specs` for those.
    A declared name that shadows a module strategy is an error.
    """
    specs = dict(module_specs())
    for name, (entry, kind) in _declared_entries(features_config or {}).items():
        if name in specs:
            raise ValueError(f"features.declared.{name}: {name!r} is already a built-in strategy")
        specs[name] = declared_spec(name, entry, kind)
    return specs


def known_strategy_names(features_config: Mapping[str, Any] | None = None) -> list[str]:
    return list(strategy_specs(features_config))


def strategy_spec(name: str, features_config: Mapping[str, Any] | None = None) -> StrategySpec:
    """The spec of one strategy; an unknown name is an error that lists the known ones."""
    specs = strategy_specs(features_config)
    if name not in specs:
        raise ValueError(
            f"unknown feature strategy {name!r} (features.strategies); known: {', '.join(specs)}"
        )
    return specs[name]


def selected_specs(features_config: Mapping[str, Any]) -> dict[str, StrategySpec]:
    """The specs of `features.strategies`, in config order (unknown names: an error)."""
    specs = strategy_specs(features_config)
    unknown = [n for n in features_config.get("strategies", []) if n not in specs]
    if unknown:
        raise ValueError(
            f"features.strategies: unknown strategies {', '.join(unknown)}; known: {', '.join(specs)}"
        )
    return {name: specs[name] for name in features_config.get("strategies", [])}


def strategy_applies(
    spec: StrategySpec | str,
    dataset_config: Mapping[str, Any],
    features_config: Mapping[str, Any] | None = None,
) -> bool:
    """Whether a strategy (spec or name) can be built for a dataset (`provided` needs an mmrec
    source, `mmrec_original` a dataset with `image_features_url`)."""
    if isinstance(spec, str):
        spec = strategy_spec(spec, features_config)
    if spec.dataset_sources is not None and dataset_config.get("source") not in spec.dataset_sources:
        return False
    return all(key in dataset_config for key in spec.required_dataset_keys)


def feature_set_files(strategy: str, features_config: Mapping[str, Any] | None = None) -> list[str]:
    """File names of a strategy's feature set (modality files, then manifest.json)."""
    return strategy_spec(strategy, features_config).files


def strategy_params(strategy: str, features_config: Mapping[str, Any]) -> dict[str, Any]:
    """The config values a strategy reads, as Snakemake `params:` (name -> value).

    Only what the strategy reads is returned, so editing one prompt (or one declared strategy's
    template) changes one rule's params; editing an encoder changes the rules of the strategies
    that run it.
    """
    spec = strategy_spec(strategy, features_config)
    if spec.declared:
        return _declared_params(spec, features_config)
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
        params["runner"] = runner_settings(features_config)
    for key in spec.extra_params:
        params[key] = features_config[key] if key in features_config else schema_default("features", key)
    return params


def runner_settings(features_config: Mapping[str, Any]) -> dict[str, Any]:
    """Sharding and decoding workers of every encoded strategy; unset keys take the schema's default."""
    vlm = features_config.get("vlm2vec") or {}
    return {
        key: vlm[key] if key in vlm else schema_default("features", "vlm2vec", key) for key in RUNNER_KEYS
    }


def _declared_params(spec: StrategySpec, features_config: Mapping[str, Any]) -> dict[str, Any]:
    entry = dict(features_config["declared"][spec.name])
    encoder = dict(features_config["encoders"][spec.encoder])
    if not encoder.get("model"):
        raise ValueError(f"features.encoders.{spec.encoder}.model is required by strategy {spec.name!r}")
    params: dict[str, Any] = {
        "declared": {
            "encoder": spec.encoder,
            "inputs": entry.get("inputs", "both"),
            "template": entry.get("template", DEFAULT_TEMPLATE),
            "fusion": entry.get("fusion", "none"),
        },
        "encoder": encoder,
        "runner": runner_settings(features_config),
    }
    for key in spec.extra_params:
        params[key] = features_config[key] if key in features_config else schema_default("features", key)
    return params


def spec_from_params(strategy: str, params: Mapping[str, Any]) -> StrategySpec:
    """The spec of a strategy as a build job knows it: from its rule params alone (a declared
    strategy's params carry its entry and encoder), so a job needs no config file."""
    if "declared" in params:
        return declared_spec(strategy, params["declared"], str(params["encoder"].get("kind")))
    return strategy_spec(strategy)


def encoded_model_paths(spec: StrategySpec, features_config: Mapping[str, Any]) -> list[str]:
    """Model/adapter ids or paths a strategy's encoders load (the workflow makes the ones under
    its own resources/models/ folder inputs of the job)."""
    if spec.declared:
        sections = [features_config["encoders"][spec.encoder]]
    else:
        sections = [features_config.get(ENCODER_SECTIONS[kind]) or {} for kind in spec.encoders]
    return [str(s[key]) for s in sections for key in ("model", "adapter") if s.get(key)]
