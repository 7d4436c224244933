"""ItemKNNCBF as MMRec implements it (``src/models/itemknncbf.py``, ``configs/model/ItemKNNCBF.yaml``).

Content-only kNN, no collaborative training: what the features alone know.
- item similarity ``x_i·x_j / (‖x_i‖ ‖x_j‖ + shrink)`` on the raw features (image ⊕ text
  concatenated, MMRec's ``cat(v_feat, t_feat)``; one modality alone otherwise), top ``knn_k`` per row
  with the item itself included, values kept (``graphs.shrunk_cosine_knn``);
- a user's scores: ``R[u] · S``, the sum of the similarity rows of the items in their training
  history (``R`` the interaction matrix; duplicate rows count twice, as MMRec's COO product sums them);
- MMRec's config: knn_k 10, shrink 10, ``req_training: False``, ``epochs: 1`` — the trainer
  evaluates it once (epoch 0, loss 0) and builds no optimiser (``requires_training = False``).
Difference (README): S is sparse and computed in row blocks; MMRec keeps the dense n_items² matrix
and precomputes the dense n_users × n_items score matrix. Scores are the same.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from vlmrec.models import graphs
from vlmrec.models.base import InteractionData, Recommender
from vlmrec.models.registry import register


@register("itemknncbf")
class ItemKNNCBF(Recommender):
    # Cold items (no training interaction) are scored through feature similarity to the user's history.
    scores_cold_items: ClassVar[bool] = True
    defaults: ClassVar[dict[str, Any]] = {
        "knn_k": 10,
        "shrink": 10.0,
        "knn_block_rows": graphs.DEFAULT_BLOCK_ROWS,
    }
    requires_training: ClassVar[bool] = False

    def setup(self, data: InteractionData, features: dict[str, torch.Tensor] | None) -> None:
        p = self.params
        slots = graphs.modality_slots(features, self.name, self.n_items)
        raw = torch.cat([slots[s] for s in (graphs.IMAGE_SLOT, graphs.TEXT_SLOT) if s in slots], dim=-1)
        with torch.no_grad():
            sim = graphs.shrunk_cosine_knn(
                raw.to(self.device), int(p["knn_k"]), float(p["shrink"]), int(p["knn_block_rows"])
            )
        # S^T as CSR: a batch's scores are (S^T @ R_batch^T)^T, one sparse product per batch.
        self.sim_t = graphs.FixedSparse(graphs.to_csr(sim)).csr_t
        dev = self.device
        self.edge_users = torch.as_tensor(np.asarray(data.train_users), dtype=torch.int64, device=dev)
        self.edge_items = torch.as_tensor(np.asarray(data.train_items), dtype=torch.int64, device=dev)
        self.edge_counts = torch.as_tensor(data.edge_counts(), dtype=torch.float32, device=dev)

    def loss(
        self, users: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, batch_index: int
    ) -> torch.Tensor:
        raise RuntimeError("ItemKNNCBF has nothing to train (requires_training = False)")

    def history_rows(self, users: torch.Tensor) -> torch.Tensor:
        """Dense ``R[users]`` [len(users), n_items] (interaction counts); users must be distinct."""
        slot = torch.full((self.n_users,), -1, dtype=torch.int64, device=users.device)
        slot[users] = torch.arange(users.numel(), device=users.device)
        in_batch = slot[self.edge_users] >= 0
        rows = torch.zeros(users.numel(), self.n_items, device=users.device)
        index = (slot[self.edge_users[in_batch]], self.edge_items[in_batch])
        return rows.index_put_(index, self.edge_counts[in_batch], accumulate=True)

    @torch.no_grad()
    def score_users(self, users: torch.Tensor) -> torch.Tensor:
        unique, inverse = torch.unique(users, return_inverse=True)
        scores = torch.sparse.mm(self.sim_t, self.history_rows(unique).T).T
        return scores[inverse]
