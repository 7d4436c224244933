"""The one registry of recommender models: name -> class. A new model is one file + one config entry."""

from __future__ import annotations

import importlib
from typing import Any

import torch

from vlmrec.models.base import InteractionData, Recommender

_MODELS: dict[str, type[Recommender]] = {}
# Modules that define models; importing them runs their @register decorators.
_MODEL_MODULES = ("vlmrec.models.freedom", "vlmrec.models.lattice", "vlmrec.models.lightgcn")


def register(name: str):
    def decorator(cls: type[Recommender]) -> type[Recommender]:
        cls.name = name
        _MODELS[name] = cls
        return cls

    return decorator


def _load_all() -> None:
    for module in _MODEL_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise  # a real missing dependency inside the model file
            # model file not written yet (parallel development): its name stays unknown


def get_model_class(name: str) -> type[Recommender]:
    _load_all()
    if name not in _MODELS:
        raise ValueError(f"unknown model '{name}' (known: {sorted(_MODELS)})")
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
