"""BM3 (Zhou et al., WWW'23) as MMRec implements it (``src/models/bm3.py``, ``configs/model/BM3.yaml``).

Bootstrapped latent representations, no negatives:
- online embeddings: LightGCN (``n_layers``) over the symmetric-normalised user-item graph
  (``graphs.ui_sym_norm``, FREEDOM's: duplicates collapsed, degree + 1e-7), item = propagated +
  ID embedding; projected modality features ``trs(feature)`` (64-d, trainable raw features);
- target views: ``dropout(online)`` without gradient (one draw per batch, order u, i, text, image);
- a shared ``predictor`` Linear maps online views; the loss is
  ``(1 - cos(pred(u), i_tgt)) + (1 - cos(pred(i), u_tgt))`` over the batch's (user, positive) pairs
  + ``reg_weight`` · EmbLoss(all online users, all online items) (norms / n_items)
  + ``cl_weight`` · Σ_modality [(1 - cos(pred(m_i), i_tgt)) + (1 - cos(pred(m_i), m_tgt_i))];
- scores: ``pred(u) · pred(i)`` on the full graph.
MMRec's grid (``hyper_parameters`` order): n_layers {1, 2} × reg_weight {0.1, 0.01} × dropout
{0.3, 0.5}; cl_weight 2.0; ``feat_embed_dim`` = ``embedding_size``. The trainer's negatives are
drawn but unused (MMRec: ``use_neg_sampling: False``; the positive batches are the same).
One modality: MMRec's code skips the absent modality's terms; the same here.
Difference (README, result-preserving): only the batch's positive items are projected through
``trs`` (MMRec: the whole catalogue every batch); the dropout masks are drawn for the whole catalogue
as MMRec's ``F.dropout`` does, so the random stream and the loss are the same.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from vlmrec.models import graphs
from vlmrec.models.base import InteractionData, Recommender, xavier_normal_linear
from vlmrec.models.registry import register
from vlmrec.models.vbpr import emb_loss


def dropout_noise(shape: tuple[int, int], p: float, like: torch.Tensor) -> torch.Tensor | None:
    """The scaled keep-mask ``F.dropout(x, p)`` multiplies ``x`` by, drawn with the same RNG call
    (``empty_like(x).bernoulli_(1 - p) / (1 - p)``, torch's CPU dropout); None where F.dropout draws
    nothing (p = 0: identity; p = 1: zeros, returned as a zero mask)."""
    if p <= 0.0:
        return None
    if p >= 1.0:
        return like.new_zeros(shape)
    return like.new_empty(shape).bernoulli_(1 - p).div_(1 - p)


def one_minus_cos(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``1 - mean cosine`` over rows (BM3's alignment loss); ``b`` carries no gradient."""
    return 1 - F.cosine_similarity(a, b.detach(), dim=-1).mean()


@register("bm3")
class BM3(Recommender):
    defaults: ClassVar[dict[str, Any]] = {
        "embedding_size": 64,
        "n_layers": 1,
        "dropout": 0.5,
        "reg_weight": 0.1,
        "cl_weight": 2.0,
        "learning_rate": 1e-3,
    }
    # Every parameter has a gradient in every batch: dropping gradients is exact and cheaper.
    zero_grads_as_tensors: ClassVar[bool] = False

    def setup(self, data: InteractionData, features: dict[str, torch.Tensor] | None) -> None:
        p = self.params
        dim = int(p["embedding_size"])
        self.n_layers, self.dropout = int(p["n_layers"]), float(p["dropout"])
        self.reg_weight, self.cl_weight = float(p["reg_weight"]), float(p["cl_weight"])
        self.norm_adj = graphs.ui_sym_norm(
            self.n_users, self.n_items, data.train_users, data.train_items, self.device
        )
        slots = graphs.modality_slots(features, self.name, self.n_items)
        # MMRec's RNG order: Embedding x2, xavier x2, predictor (Linear + xavier_normal), image, text.
        self.init_id_embeddings(dim)
        self.predictor = xavier_normal_linear(dim, dim)
        self.init_modality_tables(slots, lambda width: xavier_normal_linear(width, dim))
        self.slots = [s for s in (graphs.TEXT_SLOT, graphs.IMAGE_SLOT) if s in slots]  # MMRec: t, then v

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        users, items = self.propagate_id_embeddings(self.norm_adj, self.n_layers)
        return users, items + self.item_id_embedding.weight

    def loss(
        self, users: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, batch_index: int
    ) -> torch.Tensor:
        u_online_ori, i_online_ori = self.forward()
        # MMRec projects every item's features and drops out the whole projection, then reads the
        # batch's positives. Only those rows are projected here; the dropout masks are still drawn
        # for the whole catalogue, in MMRec's order (u, i, text, image), so the RNG stream, the loss
        # and the gradients are MMRec's (test_bm3_step_matches_mmrec).
        items, inverse = torch.unique(pos, return_inverse=True)
        feat_online = {
            s: getattr(self, f"{s}_trs")(getattr(self, f"{s}_embedding")(items)) for s in self.slots
        }
        with torch.no_grad():  # target views
            u_target = F.dropout(u_online_ori, self.dropout)
            i_target = F.dropout(i_online_ori, self.dropout)
            shape = (self.n_items, int(self.params["embedding_size"]))
            noise = {s: dropout_noise(shape, self.dropout, u_online_ori) for s in self.slots}
        u_online = self.predictor(u_online_ori)[users]
        i_online = self.predictor(i_online_ori)[pos]
        u_target, i_target = u_target[users], i_target[pos]
        modal = torch.zeros((), device=u_online.device)
        for s in self.slots:
            online = self.predictor(feat_online[s])[inverse]
            target = feat_online[s].detach()[inverse]
            target = target if noise[s] is None else target * noise[s][pos]
            modal = modal + one_minus_cos(online, i_target) + one_minus_cos(online, target)
        loss_ui = one_minus_cos(u_online, i_target)
        loss_iu = one_minus_cos(i_online, u_target)
        reg = emb_loss(u_online_ori, i_online_ori)
        return loss_ui + loss_iu + self.reg_weight * reg + self.cl_weight * modal

    @torch.no_grad()
    def prepare_eval(self) -> None:
        users, items = self.forward()
        self._eval = (self.predictor(users), self.predictor(items))
