"""The interface every recommender implements (FREEDOM, LATTICE, LightGCN, ...).

The trainer (`vlmrec.training.trainer`) only talks to this interface:

    model = registry.build(name, data, features, params, device)
    for epoch ...:
        model.pre_epoch(epoch)                 # FREEDOM: resample pruned graph; LATTICE: rebuild flag
        for batch_index, (users, pos, neg) in enumerate(batches):
            loss = model.loss(users, pos, neg, batch_index)
            ...
        model.prepare_eval()                   # once per evaluation (LATTICE rebuilds its graph here)
        scores = model.score_users(users)      # [len(users), n_items], full ranking

Each model file defines one subclass with its MMRec defaults in `defaults` and registers it
with `@register("name")` from `vlmrec.models.registry`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn


@dataclass
class InteractionData:
    """What a model may know about the data: sizes and the training edges only."""

    n_users: int
    n_items: int
    train_users: np.ndarray  # int64 [E], unique (user, item) training pairs
    train_items: np.ndarray  # int64 [E]


class Recommender(nn.Module):
    name: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}
    # Whether the model consumes item features (False for ID-only models such as LightGCN).
    uses_features: ClassVar[bool] = True
    # MMRec (torch 1.11) zeroes gradients instead of dropping them, so Adam keeps stepping parameters
    # whose gradient is absent in some batches (LATTICE). A model whose parameters get a gradient in
    # every batch or never may set False: results are identical (tested) and a step saves a pass over
    # every gradient (FREEDOM's trainable raw-feature tables).
    zero_grads_as_tensors: ClassVar[bool] = True

    def __init__(
        self,
        data: InteractionData,
        features: dict[str, torch.Tensor] | None,
        params: dict[str, Any],
        device: torch.device,
    ) -> None:
        super().__init__()
        unknown = set(params) - set(self.defaults) - {"learning_rate", "reg_weight"}
        if unknown:
            raise ValueError(f"models.{self.name}: unknown parameter(s) {sorted(unknown)}")
        self.params = {**self.defaults, **params}
        self.n_users = data.n_users
        self.n_items = data.n_items
        self.device = device

    def pre_epoch(self, epoch: int) -> None:
        """Called at the start of every training epoch."""

    def loss(
        self, users: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, batch_index: int
    ) -> torch.Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def prepare_eval(self) -> None:
        """Compute whatever full-ranking needs, once per evaluation (full graph, no pruning)."""

    @torch.no_grad()
    def score_users(self, users: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def lr_lambda(self, epoch: int) -> float:
        """Learning-rate multiplier for an epoch (MMRec's LambdaLR). Constant by default."""
        return 1.0
