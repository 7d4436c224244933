"""LightGCN (He et al., 2020) as MMRec implements it: the ID-only collaborative baseline row.

MMRec ``src/models/lightgcn.py``:
- user and item embeddings (64-d) initialised with ``xavier_uniform_``;
- the symmetric-normalised bipartite graph D^-1/2 A D^-1/2 of the training pairs (degree + 1e-7 in
  float64, no self-loops; ``graphs.ui_sym_norm``, the same graph FREEDOM uses); ``n_layers``
  propagations; the final embedding is the mean over layers 0..L (``graphs.lightgcn_propagate``);
- loss = BPR ``-mean(log(1e-10 + sigmoid(pos - neg)))`` + ``reg_weight`` * EmbLoss of the **ego**
  (layer-0) embeddings of the batch, where EmbLoss = sum of Frobenius norms (not squared) divided
  by the batch size.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from vlmrec.models import graphs
from vlmrec.models.base import InteractionData, Recommender, xavier_parameter
from vlmrec.models.registry import register


@register("lightgcn")
class LightGCN(Recommender):
    defaults: ClassVar[dict[str, Any]] = {
        "embedding_size": 64,
        "n_layers": 2,
        "reg_weight": 1e-4,
        "learning_rate": 1e-3,
    }
    uses_features: ClassVar[bool] = False
    # Every parameter has a gradient in every batch: dropping gradients is exact and cheaper.
    zero_grads_as_tensors: ClassVar[bool] = False

    def setup(self, data: InteractionData, features: dict[str, torch.Tensor] | None) -> None:
        dim = int(self.params["embedding_size"])
        self.n_layers = int(self.params["n_layers"])
        self.reg_weight = float(self.params["reg_weight"])
        self.user_embedding = xavier_parameter(self.n_users, dim)
        self.item_embedding = xavier_parameter(self.n_items, dim)
        # The one user-item graph builder (graphs.py), shared with FREEDOM; built on the model's device
        # (a FixedSparse is not a buffer, so Module.to() would not move it).
        self.norm_adj = graphs.ui_sym_norm(
            self.n_users, self.n_items, data.train_users, data.train_items, self.device
        )

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        ego = torch.cat([self.user_embedding, self.item_embedding], dim=0)
        final = graphs.lightgcn_propagate(self.norm_adj, ego, self.n_layers)
        return self.split_users_items(final)

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
        self._eval = self.forward()
