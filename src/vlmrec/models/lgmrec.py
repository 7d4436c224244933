"""LGMRec (Guo et al., AAAI'24) as MMRec implements it (``src/models/lgmrec.py``, its ``LGMRec.yaml``).

- collaborative graph embedding (CGE): LightGCN (``n_ui_layers`` = 2) of the ID embeddings on FREEDOM's
  ``D^-1/2 A D^-1/2`` (``graphs.ui_sym_norm``: duplicates collapsed, degree + 1e-7);
- modality graph embedding (MGE, local): items ``feature @ W`` (frozen features, trainable W,
  ``feat_embed_dim`` 64), users the mean of their items' (``R`` · items / (degree + 1e-7), ``R`` the
  raw interaction matrix with duplicate rows summed), then ``n_mm_layers`` = 2 propagations on the same
  graph; local = CGE + normalize(MGE_image) + normalize(MGE_text);
- global hypergraph embedding (GHE): item-hyperedge memberships ``gumbel_softmax(feature @ H, τ=0.2)``
  (``hyper_num`` = 4 hyperedges per modality), user memberships ``gumbel_softmax(R · (feature @ H))``,
  both dropped out with keep rate 0.5, ``n_hyper_layer`` = 1 hypergraph propagation of the CGE items;
  final = local + ``alpha`` (0.3) · normalize(GHE_image + GHE_text);
- loss = BPR (logsigmoid) + ``cl_weight`` (1e-4) · [InfoNCE-style ``ssl_triple_loss`` (τ=0.2, summed)
  between the image and text hyperedge embeddings of the batch's users and positive items] +
  ``reg_weight`` (1e-6) · EmbLoss of the batch's u, i⁺, i⁻ (norms / batch);
- MMRec's grid (Baby's values): one point.
MMRec's LGMRec needs both modalities (its forward fails with one); a single-modality feature set is
copied to both (``graphs.two_modality_slots``). Difference (README): the Gumbel noise of scoring is
drawn once per evaluation (MMRec: once per evaluation batch of users; both are random draws from the
same distribution).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from vlmrec.models import graphs
from vlmrec.models.base import InteractionData, Recommender, xavier_parameter
from vlmrec.models.registry import register
from vlmrec.models.vbpr import emb_loss

TAU = 0.2  # MMRec's hard-coded temperature (Gumbel softmax and ssl_triple_loss)
MODALITIES = (graphs.IMAGE_SLOT, graphs.TEXT_SLOT)


def hypergraph_layer(
    i_hyper: torch.Tensor, u_hyper: torch.Tensor, item_embeds: torch.Tensor, n_layers: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """MMRec's ``HGNNLayer``: ``lat = Hᵢᵀ X``; items ``Hᵢ lat``, users ``Hᵤ lat``, ``n_layers`` times."""
    i_ret = item_embeds
    u_ret = item_embeds.new_zeros((u_hyper.shape[0], item_embeds.shape[1]))
    for _ in range(n_layers):
        lat = i_hyper.T @ i_ret
        i_ret = i_hyper @ lat
        u_ret = u_hyper @ lat
    return u_ret, i_ret


def ssl_triple_loss(emb1: torch.Tensor, emb2: torch.Tensor, all_emb: torch.Tensor) -> torch.Tensor:
    """MMRec's LGMRec contrastive term: -Σ log(exp(cos(e1, e2)/τ) / Σ_all exp(cos(e1, a)/τ))."""
    e1, e2, every = F.normalize(emb1), F.normalize(emb2), F.normalize(all_emb)
    pos = torch.exp((e1 * e2).sum(dim=1) / TAU)
    total = torch.exp(e1 @ every.T / TAU).sum(dim=1)
    return -torch.log(pos / total).sum()


@register("lgmrec")
class LGMRec(Recommender):
    # Cold items (no training interaction) are scored through the modality graph embedding of its features.
    scores_cold_items: ClassVar[bool] = True
    defaults: ClassVar[dict[str, Any]] = {
        "embedding_size": 64,
        "feat_embed_dim": 64,
        "cf_model": "lightgcn",
        "n_ui_layers": 2,
        "n_mm_layers": 2,
        "n_hyper_layer": 1,
        "hyper_num": 4,
        "keep_rate": 0.5,
        "alpha": 0.3,
        "cl_weight": 1e-4,
        "reg_weight": 1e-6,
        "learning_rate": 1e-3,
    }
    # Every parameter has a gradient in every batch: dropping gradients is exact and cheaper.
    zero_grads_as_tensors: ClassVar[bool] = False

    def setup(self, data: InteractionData, features: dict[str, torch.Tensor] | None) -> None:
        p = self.params
        if p["cf_model"] not in ("lightgcn", "mf"):
            raise ValueError(
                f"models.{self.name}: cf_model must be 'lightgcn' or 'mf', got {p['cf_model']!r}"
            )
        dim, feat_dim, hyper = int(p["embedding_size"]), int(p["feat_embed_dim"]), int(p["hyper_num"])
        self.norm_adj = graphs.ui_sym_norm(
            self.n_users, self.n_items, data.train_users, data.train_items, self.device
        )
        self.adj = graphs.user_item_matrix(
            self.n_users, self.n_items, data.train_users, data.train_items, data.edge_counts(), self.device
        )
        degree = torch.bincount(torch.as_tensor(data.train_users, dtype=torch.int64), minlength=self.n_users)
        inv_degree = (1.0 / (degree.to(torch.float64) + 1e-7)).to(torch.float32)  # MMRec: numpy, then float32
        self.register_buffer("inv_user_degree", inv_degree.unsqueeze(1).to(self.device), persistent=False)
        slots = graphs.two_modality_slots(features, self.name, self.n_items)
        # MMRec's RNG order: Embedding x2, xavier x2, then per modality (image, text): W, H.
        self.init_id_embeddings(dim)
        self.drop = nn.Dropout(p=1 - float(p["keep_rate"]))
        for slot in MODALITIES:
            feat = slots[slot].to(self.device)
            self.register_buffer(f"{slot}_features", feat, persistent=False)
            setattr(self, f"{slot}_trs", xavier_parameter(feat.shape[1], feat_dim))
            setattr(self, f"{slot}_hyper", xavier_parameter(feat.shape[1], hyper))

    def cge(self) -> torch.Tensor:
        ego = torch.cat([self.user_embedding.weight, self.item_id_embedding.weight], dim=0)
        if self.params["cf_model"] == "mf":
            return ego
        return graphs.lightgcn_propagate(self.norm_adj, ego, int(self.params["n_ui_layers"]))

    def mge(self, slot: str) -> torch.Tensor:
        item_feats = getattr(self, f"{slot}_features") @ getattr(self, f"{slot}_trs")
        user_feats = graphs.spmm(self.adj, item_feats) * self.inv_user_degree
        feats = torch.cat([user_feats, item_feats], dim=0)
        for _ in range(int(self.params["n_mm_layers"])):
            feats = graphs.spmm(self.norm_adj, feats)
        return feats

    def forward(self) -> tuple[torch.Tensor, torch.Tensor, dict[str, tuple[torch.Tensor, torch.Tensor]]]:
        """(users, items, {modality: (user hyper embeddings, item hyper embeddings)})."""
        memberships = {}
        for slot in MODALITIES:  # Gumbel draws in MMRec's order: image items, image users, text ...
            i_hyper = getattr(self, f"{slot}_features") @ getattr(self, f"{slot}_hyper")
            u_hyper = graphs.spmm(self.adj, i_hyper)
            memberships[slot] = (
                F.gumbel_softmax(i_hyper, TAU, dim=1, hard=False),
                F.gumbel_softmax(u_hyper, TAU, dim=1, hard=False),
            )
        cge = self.cge()
        local = cge + F.normalize(self.mge(graphs.IMAGE_SLOT)) + F.normalize(self.mge(graphs.TEXT_SLOT))
        hyper_embeds = {}
        for slot in MODALITIES:
            i_hyper, u_hyper = memberships[slot]
            i_dropped = self.drop(i_hyper)  # MMRec evaluates drop(i) before drop(u)
            u_dropped = self.drop(u_hyper)
            hyper_embeds[slot] = hypergraph_layer(
                i_dropped, u_dropped, cge[self.n_users :], int(self.params["n_hyper_layer"])
            )
        ghe = sum(torch.cat(hyper_embeds[slot], dim=0) for slot in MODALITIES)
        final = local + float(self.params["alpha"]) * F.normalize(ghe)
        users, items = self.split_users_items(final)
        return users, items, hyper_embeds

    def loss(
        self, users: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, batch_index: int
    ) -> torch.Tensor:
        user_all, item_all, hyper = self.forward()
        u, i_pos, i_neg = user_all[users], item_all[pos], item_all[neg]
        bpr = graphs.bpr_loss(u, i_pos, i_neg)
        (uv, iv), (ut, it) = hyper[graphs.IMAGE_SLOT], hyper[graphs.TEXT_SLOT]
        hcl = ssl_triple_loss(uv[users], ut[users], ut) + ssl_triple_loss(iv[pos], it[pos], it)
        reg = emb_loss(u, i_pos, i_neg)
        return bpr + float(self.params["cl_weight"]) * hcl + float(self.params["reg_weight"]) * reg

    @torch.no_grad()
    def prepare_eval(self) -> None:
        """One forward (Gumbel noise drawn, dropout off) per evaluation; MMRec: per eval batch."""
        users, items, _ = self.forward()
        self._eval = (users, items)
