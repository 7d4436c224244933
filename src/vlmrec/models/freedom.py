"""FREEDOM (Zhou & Shen, MM'23) as MMRec implements it (its ``src/models/freedom.py``).

Frozen item-item kNN graph (binary, row-normalised, 0.1*image + 0.9*text) propagating the item ID
embeddings once, a 2-layer LightGCN on the symmetric user-item graph, degree-sensitive edge pruning
resampled every epoch, and BPR plus ``reg_weight`` times the modality BPR terms. Differences from
MMRec (all result-preserving or documented in docs/models.md): sparse block-wise kNN, no stale
on-disk graph cache, the modality terms are skipped when ``reg_weight == 0`` (their gradients would
be exactly zero, so Adam leaves the parameters unchanged either way), and with ``reg_weight > 0`` only
the batch's unique items are projected through ``text_trs``/``image_trs`` (MMRec projects the whole
catalogue every batch; same loss and gradients up to float rounding).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from vlmrec.models import graphs
from vlmrec.models.base import InteractionData, Recommender
from vlmrec.models.registry import register


@register("freedom")
class Freedom(Recommender):
    # Cold items are placed by the item-item kNN graph over their features.
    scores_cold_items: ClassVar[bool] = True
    defaults: ClassVar[dict[str, Any]] = {
        "embedding_size": 64,
        "feat_embed_dim": 64,
        "knn_k": 10,
        "mm_image_weight": 0.1,
        "n_mm_layers": 1,
        "n_ui_layers": 2,
        "dropout": 0.8,
        "reg_weight": 0.0,
        "learning_rate": 0.001,
        "knn_block_rows": graphs.DEFAULT_BLOCK_ROWS,
    }
    # Each parameter gets a gradient in every batch or never (the modality branch at reg_weight 0):
    # dropping gradients instead of zeroing them is exact (tests/models/test_trainer.py) and cheaper.
    zero_grads_as_tensors: ClassVar[bool] = False

    def setup(self, data: InteractionData, features: dict[str, torch.Tensor] | None) -> None:
        p = self.params
        slots = graphs.modality_slots(features, self.name, self.n_items)
        self._init_parameters(slots)
        self._init_graphs(data, slots)
        self.masked_adj: graphs.FixedSparse | None = None
        self.reg_weight = float(p["reg_weight"])

    # -----------------------------------------------------------------------------------------
    def _init_parameters(self, slots: dict[str, torch.Tensor]) -> None:
        """Created on CPU in MMRec's RNG order: Embedding(U), Embedding(I), xavier(U), xavier(I), Linears."""
        feat_dim = int(self.params["feat_embed_dim"])
        self.init_id_embeddings(int(self.params["embedding_size"]))
        self.init_modality_tables(slots, lambda width: nn.Linear(width, feat_dim))

    def _init_graphs(self, data: InteractionData, slots: dict[str, torch.Tensor]) -> None:
        p, dev = self.params, self.device
        self.norm_adj = graphs.ui_sym_norm(
            self.n_users, self.n_items, data.train_users, data.train_items, dev
        )
        # MMRec's edge order for torch.multinomial comes from SciPy's COO (item-major with the
        # SciPy of its pinned environment); sorting makes ours independent of the input order.
        users, items = graphs.unique_edges(data.train_users, data.train_items, self.n_items)
        order = torch.argsort(users + items * self.n_users, stable=True)
        self.edge_users, self.edge_items = users[order].to(dev), items[order].to(dev)
        self.edge_values = graphs.edge_norm_values(
            self.edge_users, self.edge_items, self.n_users, self.n_items
        )
        on_device = {slot: x.to(dev) for slot, x in slots.items()}
        self.mm_adj = graphs.freedom_mm_adj(
            on_device, int(p["knn_k"]), float(p["mm_image_weight"]), int(p["knn_block_rows"])
        )

    # -----------------------------------------------------------------------------------------
    def pre_epoch(self, epoch: int) -> None:
        """Resample the pruned training graph (consumes torch's RNG, like MMRec's pre_epoch_processing)."""
        dropout = float(self.params["dropout"])
        if dropout <= 0.0:
            self.masked_adj = self.norm_adj
            return
        self.masked_adj = graphs.pruned_ui_graph(
            self.edge_users, self.edge_items, self.edge_values, dropout, self.n_users, self.n_items
        )

    def forward(self, adj: graphs.FixedSparse) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.item_id_embedding.weight
        for _ in range(int(self.params["n_mm_layers"])):
            h = graphs.spmm(self.mm_adj, h)
        users, items = self.propagate_id_embeddings(adj, int(self.params["n_ui_layers"]))
        return users, items + h

    def loss(
        self, users: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, batch_index: int
    ) -> torch.Tensor:
        if self.masked_adj is None:
            raise RuntimeError("FREEDOM.loss called before pre_epoch(): the pruned graph is not sampled yet")
        user_all, item_all = self.forward(self.masked_adj)
        u = user_all[users]
        loss = graphs.bpr_loss(u, item_all[pos], item_all[neg])
        if self.reg_weight == 0.0:
            return loss
        return loss + self.reg_weight * self._modality_loss(u, pos, neg)

    def _modality_loss(self, u: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        """MMRec's ``mf_t_loss + mf_v_loss``: BPR with ``trs(raw feature)`` as the item vectors.

        MMRec projects the whole catalogue every batch and then indexes pos/neg; only the batch's
        unique items are projected here. Same loss and gradients up to float rounding (rows outside
        the batch get exactly zero gradient either way; ``test_modality_terms_match_full_projection``).
        """
        items, inverse = torch.unique(torch.cat([pos, neg]), return_inverse=True)
        inv_pos, inv_neg = inverse[: pos.numel()], inverse[pos.numel() :]
        total = torch.zeros((), dtype=u.dtype, device=u.device)
        for slot in (graphs.TEXT_SLOT, graphs.IMAGE_SLOT):  # MMRec's order: mf_t_loss + mf_v_loss
            embedding = getattr(self, f"{slot}_embedding")
            if embedding is None:
                continue
            projected = getattr(self, f"{slot}_trs")(embedding(items))
            total = total + graphs.bpr_loss(u, projected[inv_pos], projected[inv_neg])
        return total

    @torch.no_grad()
    def prepare_eval(self) -> None:
        """Full (unpruned) graph, once per evaluation."""
        self._eval = self.forward(self.norm_adj)
