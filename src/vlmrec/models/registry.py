"""The one registry of recommender models: name -> class. A new model is one file + one config entry.

A model is a module in this package with a class decorated ``@register("name")``; the package is
scanned, so no list names the modules. Two views of the same modules:

* ``get_model_class`` / ``build`` import the modules (torch) for training;
* ``model_declarations`` reads each module's source (``ast``) for what the workflow needs at plan
  time — the registered name, the keys of ``defaults`` and ``uses_features`` — so that naming and
  validating the experiment never imports torch. A class whose declaration is not literal (a
  computed ``defaults``) is imported instead, which is correct, only slower.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # plan-time callers must not pay for torch
    import torch

    from vlmrec.models.base import InteractionData, Recommender

_MODELS: dict[str, type[Recommender]] = {}
_PACKAGE = "vlmrec.models"
# Parameters every model accepts besides its `defaults` (the trainer's optimiser and L2 term).
COMMON_PARAMS = ("learning_rate", "reg_weight")


@dataclass(frozen=True)
class ModelDeclaration:
    """What the workflow knows about a model without importing it."""

    name: str
    module: str
    params: tuple[str, ...]  # accepted parameter names: `defaults` keys + COMMON_PARAMS
    uses_features: bool
    # Boolean class flags (uses_features, scores_cold_items, ...), Recommender's values filled in.
    flags: Mapping[str, bool] = field(default_factory=dict)


def register(name: str):  # noqa: ANN201 (a class decorator)
    def decorator(cls: type[Recommender]) -> type[Recommender]:
        cls.name = name
        _MODELS[name] = cls
        return cls

    return decorator


def _model_modules() -> list[str]:
    """Modules of this package that register a model (a cheap text check before any import)."""
    folder = Path(__file__).parent
    return [
        f"{_PACKAGE}.{info.name}"
        for info in pkgutil.iter_modules([str(folder)])
        if not info.name.startswith("_")
        and info.name != "registry"
        and "@register(" in (folder / f"{info.name}.py").read_text("utf-8")
    ]


def _load_all() -> None:
    for module in _model_modules():
        importlib.import_module(module)


def get_model_class(name: str) -> type[Recommender]:
    _load_all()
    if name not in _MODELS:
        raise ValueError(f"unknown model '{name}' (known: {', '.join(sorted(_MODELS))})")
    return _MODELS[name]


def available_models() -> list[str]:
    _load_all()
    return sorted(_MODELS)


def build(
    name: str,
    data: InteractionData,
    features: dict[str, torch.Tensor] | None,
    params: dict[str, Any],
    device: torch.device,
) -> Recommender:
    return get_model_class(name)(data, features, params, device).to(device)


# ------------------------------------------------------------------------------------ plan time
def _registered_name(node: ast.ClassDef) -> str | None:
    for decorator in node.decorator_list:
        if (
            isinstance(decorator, ast.Call)
            and getattr(decorator.func, "id", getattr(decorator.func, "attr", None)) == "register"
            and decorator.args
            and isinstance(decorator.args[0], ast.Constant)
        ):
            return str(decorator.args[0].value)
    return None


def _class_attributes(node: ast.ClassDef) -> dict[str, ast.expr]:
    attributes: dict[str, ast.expr] = {}
    for statement in node.body:
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            if statement.value is not None:
                attributes[statement.target.id] = statement.value
        elif isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target = statement.targets[0]
            if isinstance(target, ast.Name):
                attributes[target.id] = statement.value
    return attributes


def _declared(module: str, node: ast.ClassDef, name: str) -> ModelDeclaration | None:
    """The declaration from literal class attributes; None when something is computed."""
    if any(not (isinstance(base, ast.Name) and base.id == "Recommender") for base in node.bases):
        return None  # inherits from another model: its defaults may come from there
    attributes = _class_attributes(node)
    defaults = attributes.get("defaults")
    if not isinstance(defaults, ast.Dict) or not all(isinstance(k, ast.Constant) for k in defaults.keys):
        return None
    flags = {**_base_flags(), **_literal_flags(attributes)}
    if any(key in attributes and key not in flags for key in _base_flags()):
        return None  # a flag computed from something: ask the class itself
    keys = [str(k.value) for k in defaults.keys if isinstance(k, ast.Constant)]
    params = tuple(dict.fromkeys([*keys, *COMMON_PARAMS]))
    return ModelDeclaration(name, module, params, flags["uses_features"], flags)


def _literal_flags(attributes: Mapping[str, ast.expr]) -> dict[str, bool]:
    return {
        key: value.value
        for key, value in attributes.items()
        if isinstance(value, ast.Constant) and isinstance(value.value, bool)
    }


@cache
def _base_flags() -> dict[str, bool]:
    """Recommender's boolean class flags (models/base.py), the defaults of every model."""
    path = Path(__file__).parent / "base.py"
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.ClassDef) and node.name == "Recommender":
            return _literal_flags(_class_attributes(node))
    raise RuntimeError(f"{path}: class Recommender not found")


def _imported(module: str, name: str) -> ModelDeclaration:
    importlib.import_module(module)
    cls = _MODELS[name]
    params = tuple(dict.fromkeys([*cls.defaults, *COMMON_PARAMS]))
    flags = {key: bool(getattr(cls, key)) for key in _base_flags()}
    return ModelDeclaration(name, module, params, bool(cls.uses_features), flags)


@cache
def model_declarations() -> dict[str, ModelDeclaration]:
    """Every registered model by name, read from the package's sources (torch-free when literal)."""
    found: dict[str, ModelDeclaration] = {}
    for module in _model_modules():
        path = Path(__file__).parent / f"{module.rsplit('.', 1)[1]}.py"
        for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
            if not isinstance(node, ast.ClassDef) or (name := _registered_name(node)) is None:
                continue
            if name in found:
                raise ValueError(f"model '{name}' is registered twice ({found[name].module}, {module})")
            found[name] = _declared(module, node, name) or _imported(module, name)
    return found


def model_declaration(name: str) -> ModelDeclaration:
    """One model's declaration; an unknown name lists the known ones."""
    declarations = model_declarations()
    if name not in declarations:
        raise ValueError(f"unknown model '{name}' (known: {', '.join(sorted(declarations))})")
    return declarations[name]
