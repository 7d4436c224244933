"""Dense transcriptions of MMRec's formulas (read from its model files, written anew) for the
faithfulness tests of VBPR, BM3, MGCN, LGMRec and ItemKNNCBF. Everything here is dense on purpose:
it is the n_items² reference the sparse models must match on tiny inputs."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from vlmrec.models.base import InteractionData


def tiny_interactions(n_users: int = 12, n_items: int = 15, seed: int = 0) -> InteractionData:
    """Unique pairs plus multiplicities: pair 0 occurs twice (a duplicate training row)."""
    rng = np.random.default_rng(seed)
    keys = sorted(
        {u * n_items + int(i) for u in range(n_users) for i in rng.choice(n_items, 4, replace=False)}
    )
    keys_a = np.array(keys, dtype=np.int64)
    counts = np.ones(len(keys_a))
    counts[0] = 2.0
    return InteractionData(n_users, n_items, keys_a // n_items, keys_a % n_items, counts)


def dense_r(data: InteractionData, counts: bool) -> torch.Tensor:
    """``R`` [U, I]: multiplicities (COO summed) or 1 per pair (dict-built)."""
    r = torch.zeros(data.n_users, data.n_items, dtype=torch.float64)
    values = torch.as_tensor(data.edge_counts() if counts else np.ones(len(data.train_users)))
    r[torch.as_tensor(data.train_users), torch.as_tensor(data.train_items)] = values
    return r


def dense_bipartite(r: torch.Tensor) -> torch.Tensor:
    n_users, n_items = r.shape
    a = torch.zeros(n_users + n_items, n_users + n_items, dtype=r.dtype)
    a[:n_users, n_users:] = r
    a[n_users:, :n_users] = r.T
    return a


def dense_dict_sym_norm(data: InteractionData) -> torch.Tensor:
    """FREEDOM/BM3/LGMRec ``get_norm_adj_mat``: binary A, degree (A > 0) + 1e-7, D^-1/2 A D^-1/2."""
    a = dense_bipartite(dense_r(data, counts=False))
    d = torch.pow((a > 0).sum(1).to(torch.float64) + 1e-7, -0.5)
    return (d[:, None] * a * d[None, :]).float()


def dense_lil_sym_norm(data: InteractionData) -> torch.Tensor:
    """MGCN ``get_adj_mat``: A with summed duplicates, rowsum^-1/2 (inf -> 0), D^-1/2 A D^-1/2."""
    a = dense_bipartite(dense_r(data, counts=True)).float()
    d = torch.pow(a.sum(1), -0.5)
    d[torch.isinf(d)] = 0.0
    return d[:, None] * a * d[None, :]


def dense_knn_sym(x: torch.Tensor, k: int) -> torch.Tensor:
    """``build_sim`` + ``build_knn_normalized_graph(norm_type='sym')`` on a dense matrix."""
    xn = x / torch.norm(x, p=2, dim=-1, keepdim=True)
    sim = xn @ xn.T
    val, ind = torch.topk(sim, k, dim=-1)
    s = torch.zeros_like(sim).scatter_(-1, ind, val)
    d = torch.pow(s.sum(-1), -0.5)
    d[torch.isinf(d)] = 0.0
    return torch.diagflat(d) @ s @ torch.diagflat(d)


def dense_itemknn(x: torch.Tensor, k: int, shrink: float) -> torch.Tensor:
    norm = torch.norm(x, p=2, dim=-1, keepdim=True)
    sim = (x @ x.T).div(norm * norm.T + shrink)
    val, ind = torch.topk(sim, k, dim=-1)
    return torch.zeros_like(sim).scatter_(-1, ind, val)


def lightgcn_dense(adj: torch.Tensor, ego: torch.Tensor, layers: int) -> torch.Tensor:
    out = [ego]
    for _ in range(layers):
        ego = adj @ ego
        out.append(ego)
    return torch.stack(out, dim=1).mean(dim=1)


def bpr_gamma(u: torch.Tensor, p: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
    return -torch.log(1e-10 + torch.sigmoid(torch.mul(u, p).sum(1) - torch.mul(u, n).sum(1))).mean()


def bpr_logsigmoid(u: torch.Tensor, p: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
    return -torch.mean(F.logsigmoid(torch.sum(u * p, 1) - torch.sum(u * n, 1)))


def emb_loss(*embs: torch.Tensor) -> torch.Tensor:
    total = torch.zeros(1)
    for e in embs:
        total = total + torch.norm(e, p=2)
    return total / embs[-1].shape[0]
