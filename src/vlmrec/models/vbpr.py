"""VBPR (He & McAuley, AAAI'16) as MMRec implements it (``src/models/vbpr.py``, ``configs/model/VBPR.yaml``).

- an item is its 64-d ID embedding concatenated with ``Linear(features)`` (64-d); a user is one
  128-d embedding; both ID tables ``xavier_uniform_``, the Linear ``xavier_normal_`` with zero bias
  (MMRec's ``xavier_normal_initialization`` applied to the modules);
- the features are fixed (not trained): text ⊕ image concatenated (MMRec's ``cat(t_feat, v_feat)``),
  or the one modality of a single-modality feature set;
- loss = BPR ``-mean(log(1e-10 + sigmoid(pos - neg)))`` + ``reg_weight`` · EmbLoss of the batch's
  user, positive and negative vectors (sum of Frobenius norms divided by the batch size);
- MMRec's grid: ``reg_weight`` ∈ {2.0, 1.0, 0.1, 0.01, 1e-3, 1e-4, 1e-5}, learning rate 1e-3.

Differences (README, result-preserving): the loss projects only the batch's items (MMRec: the whole
catalogue every batch, then indexes them; same loss and gradients up to float rounding). MMRec's
``forward`` has a dropout argument its loss and scoring never set (always 0), so there is none here.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from vlmrec.models import graphs
from vlmrec.models.base import (
    InteractionData,
    Recommender,
    xavier_normal_linear,
    xavier_parameter,
)
from vlmrec.models.registry import register


def bpr_gamma_loss(users: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """MMRec's ``BPRLoss``: ``-mean(log(1e-10 + sigmoid(u.i+ - u.i-)))`` (VBPR, LightGCN)."""
    diff = (users * pos).sum(dim=1) - (users * neg).sum(dim=1)
    return -torch.log(1e-10 + torch.sigmoid(diff)).mean()


def emb_loss(*embeddings: torch.Tensor) -> torch.Tensor:
    """MMRec's ``EmbLoss``: sum of (non-squared) Frobenius norms divided by the last one's rows."""
    return sum(torch.linalg.vector_norm(e) for e in embeddings) / embeddings[-1].shape[0]


@register("vbpr")
class VBPR(Recommender):
    # Cold items (no training interaction) are scored through item vectors include Linear(features).
    scores_cold_items: ClassVar[bool] = True
    defaults: ClassVar[dict[str, Any]] = {
        "embedding_size": 64,
        "reg_weight": 1e-4,
        "learning_rate": 1e-3,
    }
    # Every parameter has a gradient in every batch: dropping gradients is exact and cheaper.
    zero_grads_as_tensors: ClassVar[bool] = False

    def setup(self, data: InteractionData, features: dict[str, torch.Tensor] | None) -> None:
        dim = int(self.params["embedding_size"])
        self.reg_weight = float(self.params["reg_weight"])
        slots = graphs.modality_slots(features, self.name, self.n_items)
        raw = torch.cat([slots[s] for s in (graphs.TEXT_SLOT, graphs.IMAGE_SLOT) if s in slots], dim=-1)
        # MMRec's RNG order: xavier(U, 2d), xavier(I, d), Linear's own init, then xavier_normal_.
        self.u_embedding = xavier_parameter(self.n_users, dim * 2)
        self.i_embedding = xavier_parameter(self.n_items, dim)
        self.item_linear = xavier_normal_linear(raw.shape[1], dim)
        nn.init.constant_(self.item_linear.bias, 0.0)
        self.register_buffer("item_raw_features", raw.to(self.device), persistent=False)

    def item_embeddings(self) -> torch.Tensor:
        """[n_items, 2d]: ID embedding ⊕ projected features."""
        return torch.cat([self.i_embedding, self.item_linear(self.item_raw_features)], dim=-1)

    def loss(
        self, users: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, batch_index: int
    ) -> torch.Tensor:
        # Only the batch's items are projected (MMRec: the whole catalogue, then indexed): same
        # vectors, and the Linear's gradient only ever came from these rows.
        items, inverse = torch.unique(torch.cat([pos, neg]), return_inverse=True)
        projected = self.item_linear(self.item_raw_features[items])
        batch_items = torch.cat([self.i_embedding[items], projected], dim=-1)[inverse]
        i_pos, i_neg = batch_items[: pos.numel()], batch_items[pos.numel() :]
        u = self.u_embedding[users]
        return bpr_gamma_loss(u, i_pos, i_neg) + self.reg_weight * emb_loss(u, i_pos, i_neg)

    @torch.no_grad()
    def prepare_eval(self) -> None:
        self._eval = (self.u_embedding, self.item_embeddings())
