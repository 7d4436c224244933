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
with `@register("name")` from `vlmrec.models.registry`. A model builds its graphs and parameters
in :meth:`Recommender.setup` (the constructor has validated ``params`` by then) with the shared
pieces below: MMRec's ID tables (:meth:`Recommender.init_id_embeddings`), trainable raw-feature
tables and their projections (:meth:`Recommender.init_modality_tables`), LightGCN propagation of the
ID tables (:meth:`Recommender.propagate_id_embeddings`) and dot-product scoring of the vectors that
``prepare_eval`` caches in ``_eval`` (:meth:`Recommender.score_users`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np
import torch
from torch import nn

from vlmrec.models import graphs

MMREC_TRAIN_BATCH_SIZE = 2048  # MMRec overall.yaml train_batch_size


@dataclass
class InteractionData:
    """What a model may know about the data: sizes and the training edges only."""

    n_users: int
    n_items: int
    train_users: np.ndarray  # int64 [E], unique (user, item) training pairs
    train_items: np.ndarray  # int64 [E]
    # How often each pair occurs in the training rows (None: once each). MMRec builds some graphs by
    # summing duplicate rows (LATTICE's and MGCN's user-item graphs, LGMRec's and ItemKNNCBF's
    # interaction matrix: weight 2) and others from a dict (FREEDOM, LightGCN, BM3: weight 1).
    train_counts: np.ndarray | None = None

    def edge_counts(self) -> np.ndarray:
        """float64 [E]: each unique pair's number of training rows (1.0 without ``train_counts``)."""
        if self.train_counts is None:
            return np.ones(len(self.train_users), dtype=np.float64)
        return np.asarray(self.train_counts, dtype=np.float64)


class Recommender(nn.Module):
    name: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}
    # Whether the model consumes item features (False for ID-only models such as LightGCN).
    uses_features: ClassVar[bool] = True
    # Whether the model can score an item that has no training interaction (through its features,
    # e.g. an item-item graph). Only such models are evaluated under the cold-start protocol
    # (split.cold_items); the others are listed as not applicable.
    scores_cold_items: ClassVar[bool] = False
    # MMRec (torch 1.11) zeroes gradients instead of dropping them, so Adam keeps stepping parameters
    # whose gradient is absent in some batches (LATTICE). A model whose parameters get a gradient in
    # every batch or never may set False: results are identical (tested) and a step saves a pass over
    # every gradient (FREEDOM's trainable raw-feature tables).
    zero_grads_as_tensors: ClassVar[bool] = True
    # False for a model with nothing to train (ItemKNNCBF, MMRec's ``req_training: False``): the
    # trainer evaluates it once as epoch 0 and builds no optimiser.
    requires_training: ClassVar[bool] = True
    # (user vectors, item vectors) whose dot products are the scores, cached by ``prepare_eval``;
    # None until then and again once training resumes.
    _eval: tuple[torch.Tensor, torch.Tensor] | None = None

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
        if "batch_size" in self.params and self.params["batch_size"] is None:
            # An L2 divisor that follows config train_batch_size (LATTICE, MGCN); the trainer passes
            # training.batch_size, a model built on its own gets MMRec's default.
            self.params["batch_size"] = MMREC_TRAIN_BATCH_SIZE
        self.n_users = data.n_users
        self.n_items = data.n_items
        self.device = device
        self.setup(data, features)

    def setup(self, data: InteractionData, features: dict[str, torch.Tensor] | None) -> None:
        """Build the model's graphs and parameters; called last by the constructor.

        ``self.params`` (defaults + overrides), ``n_users``, ``n_items`` and ``device`` are set, so a
        model overrides this instead of restating the four-argument constructor.
        """

    # ------------------------------------------------------------------------- shared pieces
    def init_id_embeddings(self, dim: int) -> None:
        """MMRec's ``user_embedding`` and ``item_id_embedding`` tables, ``xavier_uniform_``-initialised.

        The random draws keep MMRec's order (Embedding(U), Embedding(I), xavier(U), xavier(I)), which
        seeded runs depend on.
        """
        self.user_embedding = nn.Embedding(self.n_users, dim)
        self.item_id_embedding = nn.Embedding(self.n_items, dim)
        nn.init.xavier_uniform_(self.user_embedding.weight)
        nn.init.xavier_uniform_(self.item_id_embedding.weight)

    def init_modality_tables(
        self, slots: dict[str, torch.Tensor], make_trs: Callable[[int], nn.Module]
    ) -> None:
        """``{slot}_embedding`` (a trainable copy of the raw features) and ``{slot}_trs`` (``make_trs``
        of the feature width) for image, then text, MMRec's order; None for an absent slot."""
        self.image_embedding = self.image_trs = self.text_embedding = self.text_trs = None
        for slot in (graphs.IMAGE_SLOT, graphs.TEXT_SLOT):
            if slot in slots:
                setattr(self, f"{slot}_embedding", trainable_features(slots[slot]))
                setattr(self, f"{slot}_trs", make_trs(slots[slot].shape[1]))

    def split_users_items(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows ``[users; items]`` of a joint table, as (users, items)."""
        users, items = torch.split(x, [self.n_users, self.n_items], dim=0)
        return users, items

    def propagate_id_embeddings(self, adj: graphs.Graph, n_layers: int) -> tuple[torch.Tensor, torch.Tensor]:
        """LightGCN over ``[user_embedding; item_id_embedding]``: the layer mean as (users, items)."""
        ego = torch.cat([self.user_embedding.weight, self.item_id_embedding.weight], dim=0)
        return self.split_users_items(graphs.lightgcn_propagate(adj, ego, n_layers))

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
        """Dot products of the (user, item) vectors ``prepare_eval`` cached in ``_eval``.

        A model that ranks otherwise (ItemKNNCBF) overrides this.
        """
        if self._eval is None:
            self.prepare_eval()
        if self._eval is None:
            raise NotImplementedError(f"{type(self).__name__}: prepare_eval() cached no (users, items)")
        user_vectors, item_vectors = self._eval
        return user_vectors[users] @ item_vectors.T

    def train(self, mode: bool = True) -> Self:
        # Cached evaluation vectors go stale as soon as training resumes.
        if mode:
            self._eval = None
        return super().train(mode)

    def lr_lambda(self, epoch: int) -> float:
        """Learning-rate multiplier for an epoch (MMRec's LambdaLR). Constant by default."""
        return 1.0


def trainable_features(features: torch.Tensor) -> nn.Embedding:
    """A trainable embedding table initialised with (a copy of) raw item features."""
    return nn.Embedding.from_pretrained(features.clone(), freeze=False)


def xavier_parameter(rows: int, cols: int) -> nn.Parameter:
    """A ``[rows, cols]`` parameter drawn with ``xavier_uniform_`` (MMRec's ID tables)."""
    return nn.Parameter(nn.init.xavier_uniform_(torch.empty(rows, cols)))


def xavier_normal_linear(n_in: int, n_out: int) -> nn.Linear:
    """``nn.Linear`` (its own init draws first) re-drawn with MMRec's ``xavier_normal_`` weight."""
    linear = nn.Linear(n_in, n_out)
    nn.init.xavier_normal_(linear.weight)
    return linear
