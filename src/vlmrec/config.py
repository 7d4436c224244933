"""Loading and validating the workflow configuration: one entry point for Snakemake, CLIs and tests.

``prepare_config(config, overrides)`` is what the Snakefile calls before any rule is defined: it
reads command-line overrides as YAML (``--config 'training={epochs: 5}'``), validates against
``config/schema.yaml`` filling its defaults (the only place a default is written), and then checks
what a schema cannot: names against the registries, grid/params keys against each model's
accepted parameters, ``valid_metric``'s k within ``topk``, ``report.baseline_feature`` among the
strategies, ``models.<m>.strategies`` and strategy versus dataset content. Every problem is one
line naming the key, the bad value and what is allowed, so ``snakemake -n`` refuses a bad config
before any job runs. Torch-free.
"""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = REPO_ROOT / "config" / "schema.yaml"
MAX_LINES = 8


class ConfigError(ValueError):
    """A configuration value is missing or invalid; the message names the key."""


def load_schema(path: Path = SCHEMA_PATH) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def schema_entry(*keys: str) -> dict[str, Any]:
    """The schema of a config key, e.g. ``schema_entry("preprocess", "k_core")``."""
    node = load_schema()
    for key in keys:
        node = node["properties"][key]
    return node


def schema_default(*keys: str) -> Any:
    """The schema's default of a config key (for command-line flags: the schema is the one place a
    default is written)."""
    node = schema_entry(*keys)
    if "default" not in node:
        raise KeyError(f"config/schema.yaml: {'.'.join(keys)} has no default")
    return copy.deepcopy(node["default"])


# ------------------------------------------------------------------------------- overrides
def apply_overrides(config: dict[str, Any], overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """Read the scalars of Snakemake's ``--config`` values as YAML, in place.

    Snakemake deep-merges ``--config 'training={epochs: 5}'`` into the config but parses nested
    values with YAML's BaseLoader, so ``5`` arrives as the string ``"5"``. Each string leaf that
    came from the command line is re-read with ``yaml.safe_load`` when that gives a number, a
    boolean or null; other strings (prompts such as ``"{text}"``) stay strings.
    """

    def walk(target: Any, override: Any) -> Any:
        if isinstance(override, Mapping) and isinstance(target, dict):
            for key, value in override.items():
                if key in target:
                    target[key] = walk(target[key], value)
            return target
        if isinstance(override, list) and isinstance(target, list) and len(target) == len(override):
            return [walk(t, o) for t, o in zip(target, override)]
        if isinstance(target, str) and target == override:
            try:
                parsed = yaml.safe_load(target)
            except yaml.YAMLError:
                return target
            return parsed if parsed is None or isinstance(parsed, (bool, int, float)) else target
        return target

    walk(config, dict(overrides or {}))
    return config


# ------------------------------------------------------------------------------ the schema
def _dotted(path: Any) -> str:
    return ".".join(str(part) for part in path) or "<root>"


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _schema_line(error: jsonschema.ValidationError) -> str:
    """One line per schema error (no dump of the offending section)."""
    where, kind, value = _dotted(error.absolute_path), error.validator, error.validator_value
    if kind == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        return f"{where}: unknown key(s) {', '.join(unknown)}" + _choices(unknown, allowed)
    if kind == "enum":
        return f"{where}: {_short(error.instance)} is not allowed; allowed: {', '.join(map(str, value))}"
    if kind == "type":
        return f"{where}: got {_short(error.instance)}, expected {value}"
    if kind == "required":
        missing = [key for key in value if key not in error.instance]
        return f"{where}: missing key(s) {', '.join(missing)}"
    if kind == "pattern":
        return f"{where}: {_short(error.instance)} does not match {value}"
    # minimum, minItems, uniqueItems, ...: jsonschema's message starts with the (short) instance.
    message = error.message if len(error.message) <= 160 else error.message[:157] + "..."
    return f"{where}: {message}"


def _extend_with_defaults(validator_class: type) -> type:
    """A validator that also fills `default` values into the instance, like Snakemake's."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):  # noqa: ANN001
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if isinstance(subschema, dict) and "default" in subschema:
                    instance.setdefault(name, copy.deepcopy(subschema["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def _schema_errors(config: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    validator = _extend_with_defaults(jsonschema.validators.validator_for(schema))(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    return [_schema_line(error) for error in errors]


# --------------------------------------------------------------------- what a schema cannot
def _choices(bad: list[str] | str, allowed: list[str]) -> str:
    """'; allowed: a, b' plus a 'did you mean' for a near miss."""
    names = [bad] if isinstance(bad, str) else bad
    close = [m for name in names for m in difflib.get_close_matches(name, allowed, n=1)]
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    return f"{hint}; allowed: {', '.join(allowed)}"


def strategy_needs(strategy: str, features: Mapping[str, Any]) -> set[str]:
    """Dataset content a strategy reads (``text`` and/or ``images``), from its torch-free spec."""
    from vlmrec.features.specs import strategy_spec

    spec = strategy_spec(strategy, features)
    needs = {"text"} if spec.needs_text else set()
    return needs | ({"images"} if spec.needs_images else set())


def dataset_content(entry: Mapping[str, Any]) -> set[str]:
    """What a dataset's items carry: Amazon sources have titles and image URLs; an MMRec release
    has neither unless it names the Amazon metadata to join by asin (`meta_url`; its images unless
    `images: false`)."""
    if entry.get("source") != "mmrec":
        return {"text", "images"}
    if "meta_url" not in entry:
        return set()
    return {"text", "images"} if entry.get("images", True) else {"text"}


def _check_models(config: dict[str, Any], strategies: list[str]) -> list[str]:
    from vlmrec.models.registry import model_declarations

    declarations = model_declarations()
    known = sorted(declarations)
    lines = []
    for model, entry in config["models"].items():
        if model not in declarations:
            lines.append(f"models.{model}: unknown model{_choices(model, known)}")
            continue
        declaration = declarations[model]
        accepted = list(declaration.params)
        for section in ("params", "grid"):
            for key in entry.get(section) or {}:
                if key not in accepted:
                    lines.append(
                        f"models.{model}.{section}.{key}: not a parameter of {model}{_choices(key, accepted)}"
                    )
        if "features" in entry and bool(entry["features"]) != declaration.uses_features:
            lines.append(
                f"models.{model}.features: {entry['features']} contradicts the model class "
                f"(uses_features={declaration.uses_features}); remove the key"
            )
        chosen = entry.get("strategies")
        if chosen is not None:
            if not declaration.uses_features:
                lines.append(f"models.{model}.strategies: {model} uses no item features; remove the key")
            for name in chosen:
                if name not in strategies:
                    lines.append(
                        f"models.{model}.strategies: '{name}' is not in features.strategies"
                        + _choices(name, strategies)
                    )
    return lines


def _check_metrics(config: dict[str, Any], strategies: list[str], explicit_baseline: bool) -> list[str]:
    training, report = config["training"], config["report"]
    topk = [int(k) for k in training["topk"]]
    lines = []
    match = re.fullmatch(r"\w+@(\d+)", str(training["valid_metric"]))
    if match and int(match.group(1)) not in topk:
        lines.append(
            f"training.valid_metric: {training['valid_metric']} needs k={match.group(1)} "
            f"in training.topk; allowed k: {', '.join(map(str, topk))}"
        )
    for k in report["k"]:
        if int(k) not in topk:
            lines.append(f"report.k: {k} is not in training.topk; allowed: {', '.join(map(str, topk))}")
    if explicit_baseline and report["baseline_feature"] not in strategies:
        lines.append(
            f"report.baseline_feature: '{report['baseline_feature']}' is not in features.strategies"
            + _choices(report["baseline_feature"], strategies)
        )
    return lines


def _check_content(config: dict[str, Any], strategies: list[str]) -> list[str]:
    """One line per dataset lacking what some selected strategy reads (text, images)."""
    from vlmrec.features.specs import strategy_applies

    lines = []
    for dataset, entry in config["datasets"].items():
        has = dataset_content(entry)
        lacking: dict[str, set[str]] = {}
        for strategy in strategies:
            # A strategy that does not apply gives no cell (`provided` on Amazon data): no error.
            if strategy_applies(strategy, entry, config["features"]):
                missing = strategy_needs(strategy, config["features"]) - has
                if missing:
                    lacking[strategy] = missing
        if lacking:
            what = " and ".join(sorted(set().union(*lacking.values())))
            lines.append(
                f"datasets.{dataset}: has no item {what} (source {entry['source']}, no meta_url), which "
                f"features.strategies {', '.join(lacking)} read; give it meta_url or drop those strategies"
            )
    return lines


def _check_reuses(config: dict[str, Any], strategies: list[str]) -> list[str]:
    """A strategy built from other feature sets (dual: visual + textual) needs them selected."""
    from vlmrec.features.specs import strategy_spec

    lines = []
    for name in strategies:
        missing = [r for r in strategy_spec(name, config["features"]).reuses if r not in strategies]
        if missing:
            lines.append(f"features.strategies: '{name}' is built from {', '.join(missing)}; list them too")
    return lines


def _check_diagnostics(config: dict[str, Any], strategies: list[str]) -> list[str]:
    """The cold-start protocol's subsets (when it is on) and the evaluation slices (issue 12)."""
    from vlmrec.evaluation.slices import slice_config

    split, datasets = config["split"], sorted(config["datasets"])
    on = split["cold_items"] > 0
    lines = [
        f"split.cold_strategies: '{name}' is not in features.strategies{_choices(name, strategies)}"
        for name in split["cold_strategies"]
        if on and name not in strategies
    ]
    lines += [
        f"split.cold_datasets: '{name}' is not among datasets{_choices(name, datasets)}"
        for name in split["cold_datasets"]
        if on and name not in datasets
    ]
    try:
        slice_config(config["training"].get("slices"))
    except ValueError as exc:  # edges not increasing in (0, 1), names not one more than edges
        lines.append(str(exc))
    return lines


def check_config(config: dict[str, Any], explicit_baseline: bool = True) -> list[str]:
    """Problems a schema cannot see, one line each (empty: fine). `config` is schema-valid."""
    strategies = list(config["features"]["strategies"])
    from vlmrec.features.specs import known_strategy_names

    try:
        known = known_strategy_names(config["features"])
    except ValueError as exc:  # a features.declared entry naming an unknown encoder, ...
        return [str(exc)]
    lines = [
        f"features.strategies: unknown strategy '{name}'{_choices(name, known)}"
        for name in strategies
        if name not in known
    ]
    if lines:
        return lines  # the other checks read the strategies' specs
    lines += _check_reuses(config, strategies)
    lines += _check_models(config, strategies)
    lines += _check_metrics(config, strategies, explicit_baseline)
    lines += _check_content(config, strategies)
    lines += _check_diagnostics(config, strategies)
    return lines


# ---------------------------------------------------------------------------- entry points
def validate_config(config: dict[str, Any], schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """Validate `config` in place (filling the schema's defaults) and return it.

    Raises ConfigError with one line per problem (at most MAX_LINES), each naming its dotted key.
    """
    explicit_baseline = "baseline_feature" in (config.get("report") or {})
    lines = _schema_errors(config, schema if schema is not None else load_schema())
    if not lines:
        lines = check_config(config, explicit_baseline)
    if lines:
        more = [f"  ... and {len(lines) - MAX_LINES} more"] if len(lines) > MAX_LINES else []
        raise ConfigError(
            "invalid configuration:\n" + "\n".join([f"  {x}" for x in lines[:MAX_LINES]] + more)
        )
    return config


def prepare_config(config: dict[str, Any], overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The Snakefile's entry point: command-line overrides as YAML, then `validate_config`."""
    return validate_config(apply_overrides(config, overrides))


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file and validate it; errors name the file and the key."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as handle:
            config = yaml.safe_load(handle) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    try:
        return validate_config(config)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
