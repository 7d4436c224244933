"""LightGCN (He et al., 2020) as MMRec implements it: the ID-only collaborative baseline row.

MMRec ``src/models/lightgcn.py``:
- user and item embeddings (64-d) initialised with ``xavier_uniform_``;
- the symmetric-normalised bipartite graph D^-1/2 A D^-1/2 of the training pairs (degree + 1e-7,
  no self-loops); ``n_layers`` propagations; the final embedding is the mean over layers 0..L;
- loss = BPR ``-mean(log(1e-10 + sigmoid(pos - neg)))`` + ``reg_weight`` * EmbLoss of the **ego**
  (layer-0) embeddings of the batch, where EmbLoss = sum of Frobenius norms (not squared) divided
  by the batch size.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from vlmrec.models.base import InteractionData, Recommender
from vlmrec.models.registry import register


def symmetric_ui_adjacency(data: InteractionData, device: torch.device) -> torch.Tensor:
    """D^-1/2 A D^-1/2 of the (n_users + n_items)^2 bipartite graph, as a coalesced sparse tensor."""
    users = torch.as_tensor(np.asarray(data.train_users), dtype=torch.int64)
    items = torch.as_tensor(np.asarray(data.train_items), dtype=torch.int64) + data.n_users
    n_nodes = data.n_users + data.n_items
    rows = torch.cat([users, items])
    cols = torch.cat([items, users])
    degree = torch.bincount(rows, minlength=n_nodes).to(torch.float32)
    inv_sqrt = (degree + 1e-7).pow(-0.5)
    values = inv_sqrt[rows] * inv_sqrt[cols]
    adj = torch.sparse_coo_tensor(
        torch.stack([rows, cols]), values, (n_nodes, n_nodes), check_invariants=False
    )
    return adj.coalesce().to(device)


@register("lightgcn")
class LightGCN(Recommender):
    defaults: ClassVar[dict[str, Any]] = {
        "embedding_size": 64,
        "n_layers": 2,
        "reg_weight": 1e-4,
        "learning_rate": 1e-3,
    }
    uses_features: ClassVar[bool] = False

    def __init__(
        self,
        data: InteractionData,
        features: dict[str, torch.Tensor] | None,
        params: dict[str, Any],
        device: torch.device,
    ) -> None:
        super().__init__(data, features, params, device)
        dim = int(self.params["embedding_size"])
        self.n_layers = int(self.params["n_layers"])
        self.reg_weight = float(self.params["reg_weight"])
        self.user_embedding = nn.Parameter(nn.init.xavier_uniform_(torch.empty(self.n_users, dim)))
        self.item_embedding = nn.Parameter(nn.init.xavier_uniform_(torch.empty(self.n_items, dim)))
        self.register_buffer("norm_adj", symmetric_ui_adjacency(data, torch.device("cpu")), persistent=False)
        self._eval_users: torch.Tensor | None = None
        self._eval_items: torch.Tensor | None = None

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        ego = torch.cat([self.user_embedding, self.item_embedding], dim=0)
        total = ego
        for _ in range(self.n_layers):
            ego = torch.sparse.mm(self.norm_adj, ego)
            total = total + ego
        final = total / (self.n_layers + 1)
        return final[: self.n_users], final[self.n_users :]

    def loss(
        self, users: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, batch_index: int
    ) -> torch.Tensor:
        user_all, item_all = self.forward()
        u, i_pos, i_neg = user_all[users], item_all[pos], item_all[neg]
        diff = (u * i_pos).sum(dim=1) - (u * i_neg).sum(dim=1)
        bpr = -torch.log(1e-10 + torch.sigmoid(diff)).mean()
        ego = (self.user_embedding[users], self.item_embedding[pos], self.item_embedding[neg])
        reg = sum(torch.linalg.vector_norm(e) for e in ego) / len(users)
        return bpr + self.reg_weight * reg

    @torch.no_grad()
    def prepare_eval(self) -> None:
        self._eval_users, self._eval_items = self.forward()

    @torch.no_grad()
    def score_users(self, users: torch.Tensor) -> torch.Tensor:
        if self._eval_users is None or self._eval_items is None:
            self.prepare_eval()
        return self._eval_users[users] @ self._eval_items.T

    def train(self, mode: bool = True) -> LightGCN:
        # Cached evaluation embeddings go stale as soon as training resumes.
        if mode:
            self._eval_users = self._eval_items = None
        return super().train(mode)
