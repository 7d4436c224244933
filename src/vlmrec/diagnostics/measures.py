"""Feature diagnostics: how a feature set's geometry agrees with behaviour, measured blockwise.

Every measure works on ``[n_items, d]`` matrices without forming an ``n_items x n_items`` matrix:
neighbour lists come from the shared row-block top-k driver (:func:`vlmrec.models.graphs.topk_blocks`,
the one behind the models' kNN graphs), pair statistics from a fixed seeded sample of item pairs.

- **overlap@k**: for each item, the share of its k feature-nearest neighbours (cosine, self excluded)
  that are also among its k nearest neighbours by co-interaction (cosine of the items' binary user
  vectors in the training split: ``|U_i & U_j| / sqrt(|U_i| |U_j|)``), averaged over the items that
  have at least k co-interacting items (others have no well-defined behavioural neighbourhood).
  Ties in either similarity go to the lower item id, so the lists are deterministic.
- **spearman**: rank correlation of feature cosine and co-interaction cosine on sampled item pairs
  (both items seen in training).
- **anisotropy**: mean cosine over all pairs of distinct items (exact, from the sum of the unit
  vectors): near 0 for isotropic vectors, near 1 when every vector points the same way.
- **effective rank**: participation ratio ``(sum s^2)^2 / sum s^4`` of the singular values ``s`` of the
  centred, L2-normalised matrix (1 = one direction, d = all directions equally used).
- **duplicate share**: share of items whose nearest other item has cosine > ``duplicate_cosine``.
- **hubness**: skewness of the k-occurrence distribution (how often each item appears in the
  others' k-NN lists); large positive = a few hubs are everyone's neighbours.
- **cross-modal**: mean cosine of an item's image and text vectors vs the mean over all pairs of
  different items (image_i, text_j); only meaningful when both come from one model's shared space.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from scipy import stats

from vlmrec.models.graphs import DEFAULT_BLOCK_ROWS, l2_normalize_rows, topk_blocks

DEFAULT_K = 10
DEFAULT_PAIRS = 200_000
DUPLICATE_COSINE = 0.99
# Tie-break: subtract j * TIE_EPS / n from column j's similarity, so equal values rank lower ids first.
# Far below any real difference of float64 cosines, far above their rounding (1e-16).
TIE_EPS = 1e-9


@dataclass(frozen=True)
class DiagnosticSettings:
    k: int = DEFAULT_K
    n_pairs: int = DEFAULT_PAIRS
    seed: int = 999
    duplicate_cosine: float = DUPLICATE_COSINE
    block_rows: int = DEFAULT_BLOCK_ROWS
    # Feature cosines for the kNN lists: float32 as the models' graphs (fast); float64 in exactness tests.
    dtype: str = "float32"

    @classmethod
    def from_mapping(cls, values: Mapping[str, object] | None) -> DiagnosticSettings:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in (values or {}).items() if k in known})  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------- behaviour
def co_interaction_matrix(users: np.ndarray, items: np.ndarray, n_items: int) -> sp.csr_matrix:
    """Binary item x user CSR matrix of the (unique) training pairs."""
    users = np.asarray(users, dtype=np.int64)
    items = np.asarray(items, dtype=np.int64)
    n_users = int(users.max()) + 1 if len(users) else 0
    matrix = sp.csr_matrix((np.ones(len(users)), (items, users)), shape=(n_items, n_users))
    matrix.data[:] = 1.0  # duplicate rows are one interaction
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def _normalized_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    return sp.diags(1.0 / np.maximum(norms, 1e-12)) @ matrix


def _tie_break(n: int) -> torch.Tensor:
    return torch.arange(n, dtype=torch.float64) * (TIE_EPS / max(n, 1))


def _exclude_self(sim: torch.Tensor, start: int) -> torch.Tensor:
    rows = torch.arange(sim.shape[0])
    sim[rows, rows + start] = -torch.inf
    return sim


def co_interaction_knn(
    matrix: sp.csr_matrix, k: int, block_rows: int = DEFAULT_BLOCK_ROWS
) -> tuple[np.ndarray, np.ndarray]:
    """(values, indices) of each item's k nearest items by co-interaction cosine, self excluded."""
    normalized = _normalized_rows(matrix).tocsr()
    transposed = normalized.T.tocsc()
    ties = _tie_break(matrix.shape[0])

    def block(start: int, stop: int) -> torch.Tensor:
        sim = torch.as_tensor((normalized[start:stop] @ transposed).toarray(), dtype=torch.float64)
        return _exclude_self(sim - ties, start)

    values, indices = topk_blocks(block, matrix.shape[0], k, block_rows)
    return values.numpy(), indices.numpy()


def feature_knn(
    x: np.ndarray | torch.Tensor, k: int, block_rows: int = DEFAULT_BLOCK_ROWS, dtype: str = "float32"
) -> tuple[np.ndarray, np.ndarray]:
    """(cosine values, indices) of each row's k nearest other rows, exact ties to the lower id."""
    values, indices, _ = feature_knn_with_pairs(x, k, None, block_rows, dtype)
    return values, indices


def feature_knn_with_pairs(
    x: np.ndarray | torch.Tensor,
    k: int,
    pairs: np.ndarray | None,
    block_rows: int = DEFAULT_BLOCK_ROWS,
    dtype: str = "float32",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`feature_knn`, plus the cosine of every (i, j) in ``pairs`` read off the same row blocks
    (gathering sampled pairs' vectors separately costs more than the kNN itself at Baby size)."""
    xn = l2_normalize_rows(torch.as_tensor(np.asarray(x), dtype=getattr(torch, dtype)))
    ties = _tie_break(xn.shape[0])
    pairs = np.zeros((0, 2), dtype=np.int64) if pairs is None else np.asarray(pairs, dtype=np.int64)
    order = np.argsort(pairs[:, 0], kind="stable")
    firsts = pairs[order, 0]
    pair_values = np.empty(len(pairs))

    def block(start: int, stop: int) -> torch.Tensor:
        sim = (xn[start:stop] @ xn.t()).to(torch.float64)
        lo, hi = np.searchsorted(firsts, [start, stop])
        chosen = order[lo:hi]
        rows = torch.as_tensor(pairs[chosen, 0] - start)
        pair_values[chosen] = sim[rows, torch.as_tensor(pairs[chosen, 1])].numpy()
        return _exclude_self(sim - ties, start)

    values, indices = topk_blocks(block, xn.shape[0], k, block_rows)
    # Report the cosine without the tie-break offset.
    return (values + ties[indices]).numpy(), indices.numpy(), pair_values


def agreement_pairs(matrix: sp.csr_matrix, settings: DiagnosticSettings) -> np.ndarray:
    """The seeded sample of item pairs (both items seen in training) behind the Spearman value."""
    seen = np.flatnonzero(np.diff(matrix.indptr) > 0)
    return sample_pairs(matrix.shape[0], settings.n_pairs, settings.seed + 1, pool=seen)


def knn_overlap(
    feature_indices: np.ndarray, behaviour_indices: np.ndarray, behaviour_values: np.ndarray
) -> tuple[float, int]:
    """Mean |F_k(i) & C_k(i)| / k over items whose k behavioural neighbours all co-interact (> 0)."""
    k = behaviour_indices.shape[1]
    valid = (behaviour_values > TIE_EPS).all(axis=1)
    if not valid.any():
        return float("nan"), 0
    f = np.sort(feature_indices[valid], axis=1)
    shared = [np.intersect1d(a, b, assume_unique=True).size for a, b in zip(f, behaviour_indices[valid])]
    return float(np.mean(shared) / k), int(valid.sum())


def sample_pairs(n_items: int, n_pairs: int, seed: int, pool: np.ndarray | None = None) -> np.ndarray:
    """``[m, 2]`` item pairs i < j: every pair when there are at most ``n_pairs``, else a seeded sample."""
    candidates = np.arange(n_items) if pool is None else np.asarray(pool, dtype=np.int64)
    m = len(candidates)
    if m < 2:
        return np.zeros((0, 2), dtype=np.int64)
    if m * (m - 1) // 2 <= n_pairs:
        i, j = np.triu_indices(m, k=1)
        return np.stack([candidates[i], candidates[j]], axis=1)
    rng = np.random.default_rng(seed)
    a = rng.integers(0, m, size=n_pairs)
    b = rng.integers(0, m - 1, size=n_pairs)
    b = b + (b >= a)  # uniform over b != a
    return np.stack([candidates[np.minimum(a, b)], candidates[np.maximum(a, b)]], axis=1)


def pair_cosines(x: np.ndarray, pairs: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
    """cos(x[i], y[j]) for each pair (y defaults to x), in chunks."""
    xn = _unit_rows(x, np.float32)
    yn = xn if y is None else _unit_rows(y, np.float32)
    out = np.empty(len(pairs))
    chunk_rows = max(1, 2**22 // max(1, xn.shape[1]))  # ~32 MB of gathered rows per chunk
    for start in range(0, len(pairs), chunk_rows):
        chunk = pairs[start : start + chunk_rows]
        out[start : start + len(chunk)] = np.einsum("ij,ij->i", xn[chunk[:, 0]], yn[chunk[:, 1]])
    return out


def _unit_rows(x: np.ndarray, dtype: type = np.float64) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(dtype, copy=False)


def mean_offdiagonal_cosine(x: np.ndarray, y: np.ndarray | None = None) -> float:
    """Mean of cos(x_i, y_j) over all i != j, exactly, in O(n d): (s_x . s_y - sum_i x_i . y_i) / (n (n-1)).

    With unit rows, the sum over all (i, j) of x_i . y_j is the dot product of the column sums.
    """
    xn = _unit_rows(x)
    yn = xn if y is None else _unit_rows(y)
    n = len(xn)
    if n < 2:
        return float("nan")
    total = float(xn.sum(axis=0) @ yn.sum(axis=0))
    diagonal = float(np.einsum("ij,ij->", xn, yn))
    return (total - diagonal) / (n * (n - 1))


def co_interaction_pair_similarity(matrix: sp.csr_matrix, pairs: np.ndarray) -> np.ndarray:
    normalized = _normalized_rows(matrix).tocsr()
    return np.asarray(normalized[pairs[:, 0]].multiply(normalized[pairs[:, 1]]).sum(axis=1)).ravel()


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(stats.spearmanr(a, b).statistic)


# ----------------------------------------------------------------------------------------- geometry
def effective_rank(x: np.ndarray, block_rows: int = 8192) -> float:
    """Participation ratio of the singular values of the centred, L2-normalised rows.

    With ``G`` the Gram matrix, ``sum s^2 = tr G`` and ``sum s^4 = ||G||_F^2``, so no eigen-decomposition
    is needed. ``G`` is the d x d ``X^T X`` when d <= n, else ``X X^T`` accumulated in row blocks
    (only its Frobenius norm is kept, never the n x n matrix).
    """
    xn = _unit_rows(x, np.float32)
    xn = xn - xn.mean(axis=0)
    total = float(np.square(xn, dtype=np.float64).sum())
    if total <= 1e-9 * len(xn):  # all rows equal up to rounding: no direction is used
        return 0.0
    if xn.shape[1] <= xn.shape[0]:
        gram = xn.T.astype(np.float64) @ xn.astype(np.float64) if xn.shape[1] <= 512 else xn.T @ xn
        frobenius = float(np.square(gram, dtype=np.float64).sum())
    else:
        frobenius = sum(
            float(np.square(xn[start : start + block_rows] @ xn.T, dtype=np.float64).sum())
            for start in range(0, len(xn), block_rows)
        )
    return total**2 / frobenius


def hubness(neighbour_indices: np.ndarray, n_items: int) -> float:
    """Skewness of the k-occurrence counts N_k(j) = #items that list j among their k neighbours."""
    counts = np.bincount(neighbour_indices.ravel(), minlength=n_items).astype(np.float64)
    if np.ptp(counts) == 0:
        return 0.0
    return float(stats.skew(counts))


def geometry(
    x: np.ndarray,
    settings: DiagnosticSettings,
    knn: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[dict[str, float], np.ndarray]:
    """Anisotropy, effective rank, duplicate share, hubness; also returns the kNN indices."""
    values, indices = (
        knn if knn is not None else feature_knn(x, settings.k, settings.block_rows, settings.dtype)
    )
    return {
        "anisotropy": mean_offdiagonal_cosine(x),
        "effective_rank": effective_rank(x),
        "duplicate_share": float((values[:, 0] > settings.duplicate_cosine).mean()),
        "hubness": hubness(indices, len(x)),
    }, indices


def behaviour_agreement(
    x: np.ndarray,
    feature_indices: np.ndarray,
    matrix: sp.csr_matrix,
    behaviour: tuple[np.ndarray, np.ndarray],
    settings: DiagnosticSettings,
    pair_values: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, float]:
    """overlap@k with the co-interaction kNN and the Spearman correlation on sampled pairs.

    ``pair_values``: (pairs, their feature cosines) when already computed with the kNN blocks.
    """
    overlap, n_items_used = knn_overlap(feature_indices, behaviour[1], behaviour[0])
    if pair_values is None:
        pairs = agreement_pairs(matrix, settings)
        cosines = pair_cosines(x, pairs)
    else:
        pairs, cosines = pair_values
    return {
        f"overlap@{settings.k}": overlap,
        "overlap_items": n_items_used,
        "spearman": spearman(cosines, co_interaction_pair_similarity(matrix, pairs)),
        "spearman_pairs": int(len(pairs)),
    }


def cross_modal(image: np.ndarray, text: np.ndarray, settings: DiagnosticSettings) -> dict[str, float]:
    """Mean cos(image_i, text_i) against mean cos(image_i, text_j) for random i != j."""
    n = len(image)
    own = float(np.einsum("ij,ij->i", _unit_rows(image), _unit_rows(text)).mean()) if n else float("nan")
    random = mean_offdiagonal_cosine(image, text)
    return {"cross_modal_paired": own, "cross_modal_random": random, "cross_modal_gap": own - random}
