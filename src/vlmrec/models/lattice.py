"""LATTICE (Zhang et al., MM'21) as MMRec implements it (its ``src/models/lattice.py``).

Fixed "original" kNN graphs on the raw features and a learned kNN graph on the 64-d projections, mixed
by softmax modality weights: ``item_adj = (1-λ)·learned + λ·original``. The learned graph is rebuilt
with gradient on the first batch of each epoch (the only route by which the projections, the raw
features and the modality weights get gradient) and detached for later batches. Differences from
MMRec, documented in docs/models.md: every graph is sparse (block-wise top-k, never n_items²), and
the graph is rebuilt once per evaluation in :meth:`prepare_eval` instead of once per eval batch
(identical scores: the parameters do not change between eval batches).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from vlmrec.models import graphs
from vlmrec.models.base import InteractionData, Recommender, trainable_features
from vlmrec.models.registry import register


@register("lattice")
class Lattice(Recommender):
    # Cold items are placed by the item-item kNN graph over their features.
    scores_cold_items: ClassVar[bool] = True
    defaults: ClassVar[dict[str, Any]] = {
        "embedding_size": 64,
        "feat_embed_dim": 64,
        "knn_k": 10,
        "lambda_coeff": 0.9,
        "n_layers": 1,
        "n_ui_layers": 2,
        "lr_decay": 0.96,
        "lr_decay_step": 50,
        "reg_weight": 0.0,
        "learning_rate": 0.001,
        # MMRec divides the L2 term by config train_batch_size (a constant, not the batch length);
        # None = follow training.batch_size (the trainer fills it in), as MMRec's config does.
        "batch_size": None,
        "knn_block_rows": graphs.DEFAULT_BLOCK_ROWS,
    }

    def setup(self, data: InteractionData, features: dict[str, torch.Tensor] | None) -> None:
        p = self.params
        self.k, self.block_rows = int(p["knn_k"]), int(p["knn_block_rows"])
        self.lambda_coeff = float(p["lambda_coeff"])
        self.reg_weight = float(p["reg_weight"])
        # Duplicate training rows count twice, as in MMRec's LIL-assigned adjacency.
        self.norm_adj = graphs.ui_row_norm_self_loops(
            self.n_users, self.n_items, data.train_users, data.train_items, self.device, data.edge_counts()
        )
        slots = graphs.modality_slots(features, self.name, self.n_items)
        self._init_parameters(slots)
        self.item_adj: graphs.Graph | None = None
        self.build_item_graph = True

    def _init_parameters(self, slots: dict[str, torch.Tensor]) -> None:
        """MMRec's RNG order: Embedding(U), Embedding(I), xavier x2, original graphs (no RNG), Linears."""
        feat_dim = int(self.params["feat_embed_dim"])
        self.init_id_embeddings(int(self.params["embedding_size"]))
        self.slots = [s for s in (graphs.IMAGE_SLOT, graphs.TEXT_SLOT) if s in slots]
        self.original: dict[str, graphs.Entries] = {}
        self.image_embedding = self.image_trs = self.text_embedding = self.text_trs = None
        for slot in self.slots:
            feat = slots[slot]
            setattr(self, f"{slot}_embedding", trainable_features(feat))
            self.original[slot] = graphs.lattice_original_graph(feat.to(self.device), self.k, self.block_rows)
        for slot in self.slots:
            setattr(self, f"{slot}_trs", nn.Linear(slots[slot].shape[1], feat_dim))
        self.modal_weight = nn.Parameter(torch.tensor([0.5, 0.5]))

    # -----------------------------------------------------------------------------------------
    def build_item_adj(self) -> graphs.Entries:
        """``(1-λ)·Norm(mix of learned kNN) + λ·mix of Norm(original kNN)``, coalesced; grad per mode."""
        weight = torch.softmax(self.modal_weight, dim=0)
        learned = {}
        for slot in self.slots:
            embedding, trs = getattr(self, f"{slot}_embedding"), getattr(self, f"{slot}_trs")
            learned[slot] = graphs.knn_entries(trs(embedding.weight), self.k, self.block_rows)
        if len(self.slots) == 2:
            # learned: mixed before normalisation; original: normalised per modality, then mixed.
            img, txt = graphs.IMAGE_SLOT, graphs.TEXT_SLOT
            learned_adj = graphs.concat(learned[img].scaled(weight[0]), learned[txt].scaled(weight[1]))
            learned_adj = graphs.coalesce(learned_adj)
            original = graphs.coalesce(
                graphs.concat(self.original[img].scaled(weight[0]), self.original[txt].scaled(weight[1]))
            )
        else:
            learned_adj, original = learned[self.slots[0]], self.original[self.slots[0]]
        learned_adj = graphs.sym_normalize(learned_adj)
        mixed = graphs.concat(learned_adj.scaled(1 - self.lambda_coeff), original.scaled(self.lambda_coeff))
        return graphs.coalesce(mixed)

    def pre_epoch(self, epoch: int) -> None:
        self.build_item_graph = True

    def forward(self, build_graph: bool) -> tuple[torch.Tensor, torch.Tensor]:
        if build_graph or self.item_adj is None:
            self.item_adj = self.build_item_adj()  # entries whose values carry grad in training mode
        elif not isinstance(self.item_adj, graphs.FixedSparse):
            # later batches: detached CSR, transpose cached for the rest of the epoch
            self.item_adj = graphs.FixedSparse(graphs.to_csr(self.item_adj))
        h = self.item_id_embedding.weight
        for _ in range(int(self.params["n_layers"])):
            h = graphs.spmm(self.item_adj, h)
        users, items = self.propagate_id_embeddings(self.norm_adj, int(self.params["n_ui_layers"]))
        return users, items + F.normalize(h, p=2, dim=1)

    def loss(
        self, users: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, batch_index: int
    ) -> torch.Tensor:
        """BPR + reg_weight·½(‖u‖²+‖i+‖²+‖i-‖²)/batch_size on the propagated embeddings."""
        user_all, item_all = self.forward(build_graph=self.build_item_graph)
        self.build_item_graph = False
        u, i_pos, i_neg = user_all[users], item_all[pos], item_all[neg]
        regularizer = 1.0 / 2 * (u**2).sum() + 1.0 / 2 * (i_pos**2).sum() + 1.0 / 2 * (i_neg**2).sum()
        regularizer = regularizer / int(self.params["batch_size"])
        return graphs.bpr_loss(u, i_pos, i_neg) + self.reg_weight * regularizer

    @torch.no_grad()
    def prepare_eval(self) -> None:
        """Rebuild the graph from the current parameters ONCE per evaluation (MMRec: per eval batch)."""
        self._eval = self.forward(build_graph=True)

    def lr_lambda(self, epoch: int) -> float:
        """MMRec's LambdaLR: ``lr_decay ** (epoch / lr_decay_step)`` (0.96^(epoch/50))."""
        return float(self.params["lr_decay"]) ** (epoch / float(self.params["lr_decay_step"]))
