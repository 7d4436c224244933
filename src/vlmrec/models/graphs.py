"""The ONE graph module shared by every model: kNN item graphs and user-item graphs.

Everything here is sparse. Item-item kNN graphs are computed in row blocks (``block_rows`` rows of the
cosine matrix at a time), and only the top-k of each row is kept, so a 63,000-item catalogue never
holds an ``n_items x n_items`` matrix. The numerics follow MMRec's FREEDOM and
LATTICE: the same epsilons, the same float32/float64 steps and the same order of additions
where it matters, so the graphs agree with MMRec's dense ones up to float rounding of row sums.

A graph is handled as an :class:`Entries` triple (rows, cols, values) while it is being assembled
(values may carry autograd for LATTICE's learned graph) and turned into a coalesced CSR tensor for
``torch.sparse.mm`` with :func:`to_csr`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

DEFAULT_BLOCK_ROWS = 1024
# MMRec's epsilon added to degrees before the inverse square root (FREEDOM and its UI graph).
DEGREE_EPS = 1e-7
IMAGE_SLOT = "image"
TEXT_SLOT = "text"


class Entries(NamedTuple):
    """A sparse matrix as (row, col, value) triples; duplicates allowed until :func:`coalesce`."""

    rows: torch.Tensor  # int64 [nnz]
    cols: torch.Tensor  # int64 [nnz]
    values: torch.Tensor  # float [nnz]
    shape: tuple[int, int]

    def scaled(self, factor: float | torch.Tensor) -> Entries:
        return Entries(self.rows, self.cols, factor * self.values, self.shape)

    def to_dense(self) -> torch.Tensor:
        return to_csr(self).to_dense()

    def nnz(self) -> int:
        return self.values.numel()


# ---------------------------------------------------------------------------------------------
# Modalities.
def modality_slots(
    features: dict[str, torch.Tensor] | None, model: str, n_items: int | None = None
) -> dict[str, torch.Tensor]:
    """Map a feature set onto MMRec's two slots: ``image`` (v_feat) and ``text`` (t_feat).

    ``image`` + ``text`` fill both slots. A single modality of any other name (``fused`` from the
    prompt strategies, ``dual_concat``) takes the text slot's role; with one modality the slot only
    decides parameter names, because MMRec's one-modality code paths are symmetric.
    """
    if not features:
        raise ValueError(f"models.{model}: needs item features (a feature set with 1 or 2 modalities)")
    names = sorted(features)
    tensors = {name: torch.as_tensor(value, dtype=torch.float32) for name, value in features.items()}
    for name, x in tensors.items():
        if x.ndim != 2 or (n_items is not None and x.shape[0] != n_items):
            raise ValueError(
                f"models.{model}: '{name}' features have shape {tuple(x.shape)}, "
                f"expected [n_items={n_items}, d]"
            )
    if names == [IMAGE_SLOT, TEXT_SLOT]:
        return {IMAGE_SLOT: tensors[IMAGE_SLOT], TEXT_SLOT: tensors[TEXT_SLOT]}
    if len(names) == 1:
        slot = IMAGE_SLOT if names[0] == IMAGE_SLOT else TEXT_SLOT
        return {slot: tensors[names[0]]}
    raise ValueError(
        f"models.{model}: feature modalities {names} not supported; "
        "use one modality of any name, or exactly 'image' + 'text'"
    )


def two_modality_slots(
    features: dict[str, torch.Tensor] | None, model: str, n_items: int | None = None
) -> dict[str, torch.Tensor]:
    """Both slots for models whose MMRec code needs ``v_feat`` and ``t_feat`` (MGCN, LGMRec).

    A single-modality feature set (``fused``, ``dual_concat``, ``visual``, ``textual``) is copied to
    both slots, as an MMRec user does by passing the same ``.npy`` as both files: two independent
    copies (trainable copies then drift apart, as two loaded files would).
    """
    slots = modality_slots(features, model, n_items)
    if len(slots) == 2:
        return slots
    (x,) = slots.values()
    return {IMAGE_SLOT: x.clone(), TEXT_SLOT: x.clone()}


# ---------------------------------------------------------------------------------------------
# Block-wise cosine kNN.
def l2_normalize_rows(x: torch.Tensor) -> torch.Tensor:
    """Rows divided by their L2 norm (MMRec's ``build_sim``); all-zero rows stay zero instead of NaN."""
    return x / torch.norm(x, p=2, dim=-1, keepdim=True).clamp_min(1e-12)


def knn_topk(
    x: torch.Tensor, k: int, block_rows: int = DEFAULT_BLOCK_ROWS
) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k cosine neighbours of every row of ``x`` (self included), computed ``block_rows`` rows at a time.

    Returns (values [n, k], indices [n, k]) exactly as ``torch.topk(cos_sim(x), k, dim=-1)`` on the
    dense matrix would. Values keep autograd when ``x`` requires grad: topk's backward only stores
    indices, so no block of the similarity matrix outlives its loop iteration.
    """
    xn = l2_normalize_rows(x)
    return topk_blocks(lambda start, stop: xn[start:stop] @ xn.t(), x.shape[0], k, block_rows)


def topk_blocks(
    block_similarity: Callable[[int, int], torch.Tensor],
    n: int,
    k: int,
    block_rows: int = DEFAULT_BLOCK_ROWS,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Row-wise top-k of an ``n x n`` similarity given one row block at a time (``[stop-start, n]``).

    The block driver behind :func:`knn_topk`, also used by the feature diagnostics for other
    similarities (co-interaction cosine, self-excluded cosine): no block outlives its iteration.
    """
    k = min(k, n)
    values, indices = [], []
    for start in range(0, n, max(1, block_rows)):
        sim = block_similarity(start, min(start + max(1, block_rows), n))
        val, ind = torch.topk(sim, k, dim=-1)
        values.append(val)
        indices.append(ind)
        del sim
    return torch.cat(values), torch.cat(indices)


def shrunk_cosine_knn(
    x: torch.Tensor, k: int, shrink: float, block_rows: int = DEFAULT_BLOCK_ROWS
) -> Entries:
    """ItemKNNCBF's similarity ``x_i.x_j / (|x_i| |x_j| + shrink)``, top-k per row (self included),
    values kept, computed ``block_rows`` rows at a time (MMRec: the dense n_items² matrix)."""
    n = x.shape[0]
    k = min(k, n)
    norms = torch.linalg.vector_norm(x, ord=2, dim=-1, keepdim=True)
    values, indices = [], []
    for start in range(0, n, max(1, block_rows)):
        block = x[start : start + block_rows]
        sim = (block @ x.t()).div(norms[start : start + block_rows] * norms.t() + shrink)
        val, ind = torch.topk(sim, k, dim=-1)
        values.append(val)
        indices.append(ind)
        del sim
    values_t, indices_t = torch.cat(values), torch.cat(indices)
    rows = torch.arange(n, device=x.device).repeat_interleave(k)
    return Entries(rows, indices_t.reshape(-1), values_t.reshape(-1), (n, n))


def knn_entries(x: torch.Tensor, k: int, block_rows: int = DEFAULT_BLOCK_ROWS) -> Entries:
    """The weighted kNN matrix (cosine values kept, LATTICE's ``build_knn_neighbourhood``) as entries."""
    values, indices = knn_topk(x, k, block_rows)
    n, kk = indices.shape
    rows = torch.arange(n, device=x.device).repeat_interleave(kk)
    return Entries(rows, indices.reshape(-1), values.reshape(-1), (n, n))


# ---------------------------------------------------------------------------------------------
# Sparse helpers.
def coalesce(entries: Entries) -> Entries:
    """Sum duplicate (row, col) entries, sorted row-major. Differentiable in the values; deterministic."""
    n_cols = entries.shape[1]
    keys = entries.rows * n_cols + entries.cols
    unique, inverse = torch.unique(keys, sorted=True, return_inverse=True)
    values = torch.zeros(unique.numel(), dtype=entries.values.dtype, device=entries.values.device)
    values = values.index_add(0, inverse, entries.values)
    return Entries(unique // n_cols, unique % n_cols, values, entries.shape)


def concat(*parts: Entries) -> Entries:
    """Entries of the sum of same-shaped matrices (duplicates are summed later by :func:`coalesce`)."""
    return Entries(
        torch.cat([p.rows for p in parts]),
        torch.cat([p.cols for p in parts]),
        torch.cat([p.values for p in parts]),
        parts[0].shape,
    )


def to_csr(entries: Entries) -> torch.Tensor:
    """A coalesced CSR tensor (fastest ``torch.sparse.mm`` on CPU; keeps autograd on the values)."""
    merged = coalesce(entries)
    counts = torch.bincount(merged.rows, minlength=entries.shape[0])
    crow = torch.zeros(entries.shape[0] + 1, dtype=torch.int64, device=counts.device)
    crow[1:] = torch.cumsum(counts, 0)
    with warnings.catch_warnings():
        # CSR is "beta" in torch; construction and spmm forward/backward used here are stable.
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(
            crow, merged.cols, merged.values, entries.shape, check_invariants=False
        )


def row_sums(entries: Entries) -> torch.Tensor:
    out = torch.zeros(entries.shape[0], dtype=entries.values.dtype, device=entries.values.device)
    return out.index_add(0, entries.rows, entries.values)


# ---------------------------------------------------------------------------------------------
# Constant sparse matrices with a cached transpose.
class FixedSparse:
    """A constant CSR matrix and its transpose, for ``A @ x`` with gradient w.r.t. ``x`` only.

    ``torch.sparse.mm`` re-derives ``A^T`` (a sort and a CSR conversion) in every backward; the graphs
    here are fixed for at least an epoch, so the transpose is built once. Same kernels, same results.
    """

    def __init__(self, csr: torch.Tensor, symmetric: bool = False) -> None:
        self.csr = csr.detach()
        self.csr_t = self.csr if symmetric else _transpose_csr(self.csr)

    @property
    def shape(self) -> torch.Size:
        return self.csr.shape

    def to_dense(self) -> torch.Tensor:
        return self.csr.to_dense()

    def _nnz(self) -> int:
        return self.csr._nnz()

    def nnz(self) -> int:
        return self.csr._nnz()


def _transpose_csr(csr: torch.Tensor) -> torch.Tensor:
    rows = torch._convert_indices_from_csr_to_coo(csr.crow_indices(), csr.col_indices())
    entries = Entries(rows[1], rows[0], csr.values(), (csr.shape[1], csr.shape[0]))
    return to_csr(entries)


class _FixedSpmm(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, matrix: FixedSparse) -> torch.Tensor:  # type: ignore[override]
        ctx.matrix = matrix
        return torch.sparse.mm(matrix.csr, x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        return torch.sparse.mm(ctx.matrix.csr_t, grad), None


Graph = FixedSparse | Entries | torch.Tensor


def spmm(adj: Graph, x: torch.Tensor) -> torch.Tensor:
    """``adj @ x`` for every graph form used here.

    - :class:`FixedSparse`: CSR product, cached transpose for the backward.
    - :class:`Entries` whose values need gradient (LATTICE's learned graph on the first batch of an
      epoch): a gather/index_add product. ``torch.sparse.mm``'s gradient w.r.t. a sparse matrix forms the
      dense ``grad @ x^T`` (n_items² floats, 15.9 GB at 63k items) before masking it; this costs
      nnz x d instead.
    - anything else (entries without grad, a torch sparse tensor): ``torch.sparse.mm``.
    """
    if isinstance(adj, FixedSparse):
        return _FixedSpmm.apply(x, adj)
    if isinstance(adj, Entries):
        if adj.values.requires_grad and torch.is_grad_enabled():
            out = torch.zeros(adj.shape[0], x.shape[1], dtype=x.dtype, device=x.device)
            return out.index_add(0, adj.rows, adj.values.unsqueeze(1) * x[adj.cols])
        return torch.sparse.mm(to_csr(adj), x)
    return torch.sparse.mm(adj, x)


# ---------------------------------------------------------------------------------------------
# Item-item graphs.
def freedom_knn_graph(x: torch.Tensor, k: int, block_rows: int = DEFAULT_BLOCK_ROWS) -> Entries:
    """FREEDOM's frozen graph for one modality: binary kNN (self included), ``D^-1/2 A D^-1/2``.

    Both degrees are ROW sums (out-degree = k), so every entry is ``(k + 1e-7)^-1/2`` squared,
    i.e. a row mean over the kNN set; not symmetric. Same float32 steps as MMRec.
    """
    with torch.no_grad():
        _, indices = knn_topk(x, k, block_rows)
    n, kk = indices.shape
    rows = torch.arange(n, device=x.device).repeat_interleave(kk)
    cols = indices.reshape(-1)
    degree = torch.bincount(rows, minlength=n)  # int64, like MMRec's sparse sum of int ones
    inv_sqrt = torch.pow(DEGREE_EPS + degree, -0.5)
    return Entries(rows, cols, inv_sqrt[rows] * inv_sqrt[cols], (n, n))


def freedom_mm_adj(
    slots: dict[str, torch.Tensor], k: int, image_weight: float, block_rows: int = DEFAULT_BLOCK_ROWS
) -> FixedSparse:
    """FREEDOM's ``mm_adj``: ``w*image + (1-w)*text`` of the per-modality graphs, or the one graph alone."""
    graphs = {slot: freedom_knn_graph(x, k, block_rows) for slot, x in slots.items()}
    if len(graphs) == 2:
        mixed = concat(graphs[IMAGE_SLOT].scaled(image_weight), graphs[TEXT_SLOT].scaled(1.0 - image_weight))
        return FixedSparse(to_csr(mixed))
    return FixedSparse(to_csr(next(iter(graphs.values()))))


def sym_normalize(entries: Entries) -> Entries:
    """LATTICE's ``compute_normalized_laplacian``: ``D^-1/2 S D^-1/2``, D = row sums of S, inf -> 0.

    Like MMRec, a negative row sum gives NaN (it never happens with self-loops of similarity 1).
    """
    d_inv_sqrt = torch.pow(row_sums(entries), -0.5)
    d_inv_sqrt = torch.where(torch.isinf(d_inv_sqrt), torch.zeros_like(d_inv_sqrt), d_inv_sqrt)
    values = d_inv_sqrt[entries.rows] * entries.values * d_inv_sqrt[entries.cols]
    return Entries(entries.rows, entries.cols, values, entries.shape)


def lattice_original_graph(x: torch.Tensor, k: int, block_rows: int = DEFAULT_BLOCK_ROWS) -> Entries:
    """LATTICE's fixed graph for one modality: weighted cosine kNN of the raw features, normalised."""
    with torch.no_grad():
        return sym_normalize(knn_entries(x, k, block_rows))


# ---------------------------------------------------------------------------------------------
# User-item graphs (nodes: users 0..U-1, then items U..U+I-1).
def _bipartite(users: torch.Tensor, items: torch.Tensor, n_users: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Both directions of each (u, i) edge, item ids shifted by n_users."""
    item_nodes = items + n_users
    return torch.cat([users, item_nodes]), torch.cat([item_nodes, users])


def unique_edges(
    users: np.ndarray | torch.Tensor, items: np.ndarray | torch.Tensor, n_items: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Distinct (user, item) pairs, user-major (MMRec's adjacency collapses duplicates)."""
    keys = torch.unique(_as_long(users, "cpu") * n_items + _as_long(items, "cpu"))
    return keys // n_items, keys % n_items


def _as_long(array: np.ndarray | torch.Tensor, device: torch.device | str) -> torch.Tensor:
    return torch.as_tensor(np.asarray(array), dtype=torch.int64).to(device)


def ui_sym_norm(
    n_users: int, n_items: int, users: np.ndarray, items: np.ndarray, device: torch.device | str = "cpu"
) -> FixedSparse:
    """FREEDOM/LightGCN ``norm_adj``: ``D^-1/2 A D^-1/2`` of the symmetric bipartite graph, no self-loops.

    Degrees + 1e-7 and the product are computed in float64 and stored as float32, as MMRec's SciPy code
    does. ``users``/``items`` must be unique pairs (``InteractionData`` guarantees it).
    """
    n = n_users + n_items
    rows, cols = _bipartite(*unique_edges(users, items, n_items), n_users)
    degree = torch.bincount(rows, minlength=n).to(torch.float64) + DEGREE_EPS
    d_inv_sqrt = torch.pow(degree, -0.5)
    values = (d_inv_sqrt[rows] * d_inv_sqrt[cols]).to(torch.float32)
    return FixedSparse(to_csr(Entries(rows, cols, values, (n, n))).to(device), symmetric=True)


def ui_row_norm_self_loops(
    n_users: int,
    n_items: int,
    users: np.ndarray,
    items: np.ndarray,
    device: torch.device | str = "cpu",
    weights: np.ndarray | None = None,
) -> FixedSparse:
    """LATTICE's ``norm_adj``: ``D^-1 (A + I)``, row-normalised with self-loops (float64 -> float32).

    ``weights`` (one per unique pair, e.g. ``InteractionData.edge_counts()``) are the entries of ``A``:
    MMRec assigns its COO interaction matrix into a LIL block, which sums duplicate rows (weight 2).
    """
    n = n_users + n_items
    rows, cols, w = _weighted_bipartite(n_users, n_items, users, items, weights)
    nodes = torch.arange(n)
    rows, cols = torch.cat([rows, nodes]), torch.cat([cols, nodes])
    w = torch.cat([w, torch.ones(n, dtype=torch.float64)])
    d_inv = 1.0 / torch.zeros(n, dtype=torch.float64).index_add(0, rows, w)
    values = (d_inv[rows] * w).to(torch.float32)
    return FixedSparse(to_csr(Entries(rows, cols, values, (n, n))).to(device))


def _weighted_bipartite(
    n_users: int, n_items: int, users: np.ndarray, items: np.ndarray, weights: np.ndarray | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Both directions of each unique (u, i) pair with its float64 weight (1 without ``weights``)."""
    u, i = _as_long(users, "cpu"), _as_long(items, "cpu")
    keys = u * n_items + i
    if torch.unique(keys).numel() != keys.numel():
        raise ValueError("user-item pairs must be unique; pass their multiplicities as weights")
    w = torch.ones(u.numel(), dtype=torch.float64)
    if weights is not None:
        w = torch.as_tensor(np.asarray(weights), dtype=torch.float64)
    rows, cols = _bipartite(u, i, n_users)
    return rows, cols, torch.cat([w, w])


def ui_sym_norm_weighted(
    n_users: int,
    n_items: int,
    users: np.ndarray,
    items: np.ndarray,
    weights: np.ndarray | None,
    device: torch.device | str = "cpu",
) -> tuple[FixedSparse, FixedSparse]:
    """MGCN's ``norm_adj`` ``D^-1/2 A D^-1/2`` (no epsilon, inf -> 0, float32 as its SciPy code) and
    ``R``, its user-item block ``[n_users, n_items]``.

    ``A`` holds the pair multiplicities (MMRec assigns the COO interaction matrix into a LIL block,
    which sums duplicate rows), unlike FREEDOM's dict-built graph (:func:`ui_sym_norm`).
    """
    n = n_users + n_items
    rows, cols, w = _weighted_bipartite(n_users, n_items, users, items, weights)
    w32 = w.to(torch.float32)
    d_inv_sqrt = torch.pow(torch.zeros(n, dtype=torch.float32).index_add(0, rows, w32), -0.5)
    d_inv_sqrt = torch.where(torch.isinf(d_inv_sqrt), torch.zeros_like(d_inv_sqrt), d_inv_sqrt)
    values = d_inv_sqrt[rows] * w32 * d_inv_sqrt[cols]
    adj = FixedSparse(to_csr(Entries(rows, cols, values, (n, n))).to(device), symmetric=True)
    half = rows.numel() // 2  # the first half are the user -> item directions
    block = Entries(rows[:half], cols[:half] - n_users, values[:half], (n_users, n_items))
    return adj, FixedSparse(to_csr(block).to(device))


def user_item_matrix(
    n_users: int,
    n_items: int,
    users: np.ndarray,
    items: np.ndarray,
    weights: np.ndarray | None = None,
    device: torch.device | str = "cpu",
) -> FixedSparse:
    """The raw interaction matrix ``R`` [n_users, n_items] (float32 multiplicities: MMRec's COO
    ``inter_matrix``, whose duplicate rows a sparse product sums), for LGMRec and ItemKNNCBF."""
    rows, cols = _as_long(users, "cpu"), _as_long(items, "cpu")
    w = torch.ones(rows.numel()) if weights is None else torch.as_tensor(np.asarray(weights))
    return FixedSparse(to_csr(Entries(rows, cols, w.to(torch.float32), (n_users, n_items))).to(device))


def edge_norm_values(users: torch.Tensor, items: torch.Tensor, n_users: int, n_items: int) -> torch.Tensor:
    """FREEDOM's ``_normalize_adj_m``: ``(d_u + 1e-7)^-1/2 (d_i + 1e-7)^-1/2`` per edge, in float32."""
    d_user = DEGREE_EPS + torch.bincount(users, minlength=n_users)
    d_item = DEGREE_EPS + torch.bincount(items, minlength=n_items)
    return torch.pow(d_user, -0.5)[users] * torch.pow(d_item, -0.5)[items]


def pruned_ui_graph(
    users: torch.Tensor,
    items: torch.Tensor,
    weights: torch.Tensor,
    dropout: float,
    n_users: int,
    n_items: int,
    generator: torch.Generator | None = None,
) -> FixedSparse:
    """FREEDOM's degree-sensitive edge pruning (one draw per epoch).

    Keeps ``int(E * (1 - dropout))`` edges sampled without replacement with probability proportional
    to ``weights`` (``1/sqrt(d_u d_i)`` on the full graph), renormalises symmetrically with the degrees
    of the kept subgraph and mirrors it into the (U+I) x (U+I) matrix.
    """
    keep = int(weights.numel() * (1.0 - dropout))
    kept = torch.multinomial(weights, keep, replacement=False, generator=generator)
    kept_users, kept_items = users[kept], items[kept]
    values = edge_norm_values(kept_users, kept_items, n_users, n_items)
    n = n_users + n_items
    rows, cols = _bipartite(kept_users, kept_items, n_users)
    return FixedSparse(to_csr(Entries(rows, cols, torch.cat([values, values]), (n, n))), symmetric=True)


def lightgcn_propagate(adj: Graph, ego: torch.Tensor, n_layers: int) -> torch.Tensor:
    """LightGCN: mean over [E0, A E0, A^2 E0, ...] (no weights, no nonlinearity)."""
    layers = [ego]
    for _ in range(n_layers):
        ego = spmm(adj, ego)
        layers.append(ego)
    return torch.stack(layers, dim=1).mean(dim=1)


def bpr_loss(users: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """-mean log sigmoid(u.i+ - u.i-), MMRec's BPR."""
    pos_scores = torch.sum(users * pos, dim=1)
    neg_scores = torch.sum(users * neg, dim=1)
    return -torch.mean(F.logsigmoid(pos_scores - neg_scores))
