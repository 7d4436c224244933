"""MGCN (Yu et al., MM'23) as MMRec implements it (``src/models/mgcn.py``, ``configs/model/MGCN.yaml``).

- user-item view: LightGCN (``n_ui_layers`` = 2) of the ID embeddings on ``D^-1/2 A D^-1/2`` (no
  epsilon; duplicate training rows sum to weight 2, as MMRec's LIL assignment does;
  ``graphs.ui_sym_norm_weighted``) — the "content" embeddings;
- behaviour-guided purifier: ``item_id ⊙ sigmoid(Linear(trs(feature)))`` per modality;
- item-item view per modality: ``n_layers`` = 1 propagation over the fixed weighted cosine kNN graph
  of the raw features (k = 10, ``D^-1/2 S D^-1/2``: LATTICE's original graph,
  ``graphs.lattice_original_graph``), users = ``R`` · items with ``R`` the user-item block of the
  normalised graph;
- behaviour-aware fuser: softmax attention ``query_common`` over the two modalities gives the common
  part; the specific parts are gated by ``sigmoid(Linear(content))``; side = (image + text +
  common) / 3; final = content + side;
- loss = BPR (logsigmoid) + ``reg_weight`` · ½(‖u‖² + ‖i⁺‖² + ‖i⁻‖²) / ``batch_size`` (MMRec's
  ``train_batch_size``, following ``training.batch_size``) + ``cl_loss`` · [InfoNCE(side, content)
  of the batch's positive items + of its users], temperature 0.2;
- lr × 0.96^(epoch/50) (MMRec's ``learning_rate_scheduler: [0.96, 50]``);
- MMRec's grid: ``cl_loss`` ∈ {0.001, 0.01, 0.1}; reg_weight 1e-4, knn_k 10, lr 1e-3.
MMRec's MGCN needs both modalities; a single-modality feature set is copied to both
(``graphs.two_modality_slots``). MMRec's ``lambda_coeff`` is read by nothing and is left out.
Differences (README): kNN graphs sparse and block-wise (MMRec: dense similarity, then sparse), no
on-disk graph cache, CPU as well as CUDA (MMRec: ``.cuda()``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from vlmrec.models import graphs
from vlmrec.models.base import InteractionData, Recommender, trainable_features
from vlmrec.models.registry import register

INFONCE_TEMPERATURE = 0.2  # MMRec's hard-coded value in calculate_loss


def info_nce(view1: torch.Tensor, view2: torch.Tensor, temperature: float) -> torch.Tensor:
    """MMRec's MGCN ``InfoNCE``: -log(exp(cos(v1_i, v2_i)/t) / Σ_j exp(cos(v1_i, v2_j)/t)), mean.

    Cosines are bounded by 1, so ``exp(1/t)`` cannot overflow; the formula is kept as MMRec's.
    """
    view1, view2 = F.normalize(view1, dim=1), F.normalize(view2, dim=1)
    pos = torch.exp((view1 * view2).sum(dim=-1) / temperature)
    total = torch.exp(view1 @ view2.T / temperature).sum(dim=1)
    return torch.mean(-torch.log(pos / total))


def l2_over_batch_size(batch_size: int, *embeddings: torch.Tensor) -> torch.Tensor:
    """``½ Σ ‖e‖² / batch_size`` (MMRec's LATTICE/MGCN regulariser, constant divisor)."""
    return sum(0.5 * (e**2).sum() for e in embeddings) / batch_size


def _gate(dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(dim, dim), nn.Sigmoid())


@register("mgcn")
class MGCN(Recommender):
    # Cold items (no training interaction) are scored through the item-item kNN views over its features.
    scores_cold_items: ClassVar[bool] = True
    defaults: ClassVar[dict[str, Any]] = {
        "embedding_size": 64,
        "n_ui_layers": 2,
        "n_layers": 1,
        "knn_k": 10,
        "reg_weight": 1e-4,
        "cl_loss": 0.01,
        "lr_decay": 0.96,
        "lr_decay_step": 50,
        "learning_rate": 1e-3,
        "batch_size": None,  # None: training.batch_size (MMRec's train_batch_size)
        "knn_block_rows": graphs.DEFAULT_BLOCK_ROWS,
    }
    # Every parameter has a gradient in every batch: dropping gradients is exact and cheaper.
    zero_grads_as_tensors: ClassVar[bool] = False

    def setup(self, data: InteractionData, features: dict[str, torch.Tensor] | None) -> None:
        p = self.params
        dim = int(p["embedding_size"])
        self.reg_weight, self.cl_weight = float(p["reg_weight"]), float(p["cl_loss"])
        self.norm_adj, self.R = graphs.ui_sym_norm_weighted(
            self.n_users, self.n_items, data.train_users, data.train_items, data.edge_counts(), self.device
        )
        slots = graphs.two_modality_slots(features, self.name, self.n_items)
        # MMRec's RNG order: Embedding x2, xavier x2, (graphs: no RNG), trs image/text, query, gates.
        self.init_id_embeddings(dim)
        self.image_embedding = trainable_features(slots[graphs.IMAGE_SLOT])
        self.text_embedding = trainable_features(slots[graphs.TEXT_SLOT])
        k, block = int(p["knn_k"]), int(p["knn_block_rows"])
        self.image_original_adj = graphs.FixedSparse(
            graphs.to_csr(graphs.lattice_original_graph(slots[graphs.IMAGE_SLOT].to(self.device), k, block))
        )
        self.text_original_adj = graphs.FixedSparse(
            graphs.to_csr(graphs.lattice_original_graph(slots[graphs.TEXT_SLOT].to(self.device), k, block))
        )
        self.image_trs = nn.Linear(slots[graphs.IMAGE_SLOT].shape[1], dim)
        self.text_trs = nn.Linear(slots[graphs.TEXT_SLOT].shape[1], dim)
        self.query_common = nn.Sequential(nn.Linear(dim, dim), nn.Tanh(), nn.Linear(dim, 1, bias=False))
        self.gate_v, self.gate_t = _gate(dim), _gate(dim)
        self.gate_image_prefer, self.gate_text_prefer = _gate(dim), _gate(dim)

    def _modality_view(self, item_embeds: torch.Tensor, adj: graphs.FixedSparse) -> torch.Tensor:
        """Item-item propagation, users as ``R`` · items; [n_users + n_items, d]."""
        for _ in range(int(self.params["n_layers"])):
            item_embeds = graphs.spmm(adj, item_embeds)
        return torch.cat([graphs.spmm(self.R, item_embeds), item_embeds], dim=0)

    def forward(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(users, items, side, content) as MMRec's ``forward(train=True)``."""
        item_id = self.item_id_embedding.weight
        image_item = item_id * self.gate_v(self.image_trs(self.image_embedding.weight))
        text_item = item_id * self.gate_t(self.text_trs(self.text_embedding.weight))
        ego = torch.cat([self.user_embedding.weight, item_id], dim=0)
        content = graphs.lightgcn_propagate(self.norm_adj, ego, int(self.params["n_ui_layers"]))
        image = self._modality_view(image_item, self.image_original_adj)
        text = self._modality_view(text_item, self.text_original_adj)
        weight = torch.softmax(torch.cat([self.query_common(image), self.query_common(text)], dim=-1), dim=-1)
        common = weight[:, 0].unsqueeze(1) * image + weight[:, 1].unsqueeze(1) * text
        sep_image = self.gate_image_prefer(content) * (image - common)
        sep_text = self.gate_text_prefer(content) * (text - common)
        side = (sep_image + sep_text + common) / 3
        users, items = self.split_users_items(content + side)
        return users, items, side, content

    def loss(
        self, users: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, batch_index: int
    ) -> torch.Tensor:
        user_all, item_all, side, content = self.forward()
        u, i_pos, i_neg = user_all[users], item_all[pos], item_all[neg]
        bpr = graphs.bpr_loss(u, i_pos, i_neg)
        reg = self.reg_weight * l2_over_batch_size(int(self.params["batch_size"]), u, i_pos, i_neg)
        side_u, side_i = self.split_users_items(side)
        content_u, content_i = self.split_users_items(content)
        cl = info_nce(side_i[pos], content_i[pos], INFONCE_TEMPERATURE) + info_nce(
            side_u[users], content_u[users], INFONCE_TEMPERATURE
        )
        return bpr + reg + self.cl_weight * cl

    @torch.no_grad()
    def prepare_eval(self) -> None:
        users, items, _, _ = self.forward()
        self._eval = (users, items)

    def lr_lambda(self, epoch: int) -> float:
        """MMRec's ``learning_rate_scheduler: [0.96, 50]``: ``0.96 ** (epoch / 50)``."""
        return float(self.params["lr_decay"]) ** (epoch / float(self.params["lr_decay_step"]))
