"""vlmrec.models.graphs against small dense reference computations written from the MMRec description."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vlmrec.models import graphs


# ---------------------------------------------------------------------------------------------
# Dense references (MMRec's dense code paths, described in ../shared/reference/mmrec-protocol.md).
def dense_cosine(x: torch.Tensor) -> torch.Tensor:
    xn = x / torch.norm(x, p=2, dim=-1, keepdim=True)
    return xn @ xn.t()


def dense_freedom_graph(x: torch.Tensor, k: int) -> torch.Tensor:
    """Binary kNN, entries (rowsum_r + 1e-7)^-1/2 (rowsum_c + 1e-7)^-1/2 with row sums on both sides."""
    _, ind = torch.topk(dense_cosine(x), k, dim=-1)
    adj = torch.zeros(x.shape[0], x.shape[0]).scatter_(-1, ind, 1.0)
    r = torch.pow(adj.sum(-1) + 1e-7, -0.5)
    return adj * r[:, None] * r[None, :]


def dense_lattice_graph(x: torch.Tensor, k: int) -> torch.Tensor:
    sim = dense_cosine(x)
    val, ind = torch.topk(sim, k, dim=-1)
    adj = torch.zeros_like(sim).scatter_(-1, ind, val)
    return dense_sym_normalize(adj)


def dense_sym_normalize(adj: torch.Tensor) -> torch.Tensor:
    d = torch.pow(adj.sum(-1), -0.5)
    d[torch.isinf(d)] = 0.0
    return torch.diagflat(d) @ adj @ torch.diagflat(d)


def exact_features(n: int, d: int, seed: int) -> torch.Tensor:
    """Rows with four equal non-zeros: normalised entries are 0.5, so every cosine (0, .25, .5, .75, 1)
    is exact in any summation order, and many ties appear."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, d), dtype=np.float32)
    for row in x:
        row[rng.choice(d, 4, replace=False)] = 3.0
    return torch.from_numpy(x)


def to_dense(csr: torch.Tensor) -> torch.Tensor:
    return csr.to_dense()


# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("block_rows", [1, 7, 64, 1000])
def test_blockwise_knn_equals_dense_topk_with_ties(block_rows: int) -> None:
    x = exact_features(60, 10, seed=0)  # many duplicates and exact ties
    val, ind = graphs.knn_topk(x, 10, block_rows=block_rows)
    ref_val, ref_ind = torch.topk(dense_cosine(x), 10, dim=-1)
    assert torch.equal(val, ref_val)
    assert torch.equal(ind, ref_ind)


@pytest.mark.parametrize("block_rows", [5, 33])
def test_blockwise_knn_matches_dense_on_random_features(block_rows: int) -> None:
    x = torch.randn(80, 32, generator=torch.Generator().manual_seed(0))
    val, ind = graphs.knn_topk(x, 10, block_rows=block_rows)
    ref_val, ref_ind = torch.topk(dense_cosine(x), 10, dim=-1)
    torch.testing.assert_close(val, ref_val, rtol=1e-5, atol=1e-6)
    assert torch.equal(ind.sort(-1).values, ref_ind.sort(-1).values)
    # self included: a distinct row's best neighbour is itself (similarity 1)
    assert torch.equal(ind[:, 0], torch.arange(80))


def test_knn_never_materialises_more_than_a_block(monkeypatch: pytest.MonkeyPatch) -> None:
    shapes: list[tuple[int, ...]] = []
    real_topk = torch.topk

    def spy(t, *args, **kwargs):
        shapes.append(tuple(t.shape))
        return real_topk(t, *args, **kwargs)

    monkeypatch.setattr(torch, "topk", spy)
    graphs.knn_topk(torch.randn(100, 8), 5, block_rows=16)
    assert shapes and all(s[0] <= 16 for s in shapes)


def test_freedom_mm_adj_matches_dense_reference() -> None:
    gen = torch.Generator().manual_seed(3)
    image, text = torch.randn(40, 12, generator=gen), torch.randn(40, 20, generator=gen)
    mm_adj = to_dense(graphs.freedom_mm_adj({"image": image, "text": text}, k=10, image_weight=0.1))
    reference = 0.1 * dense_freedom_graph(image, 10) + 0.9 * dense_freedom_graph(text, 10)
    torch.testing.assert_close(mm_adj, reference, rtol=0, atol=1e-7)
    nonzero = mm_adj[mm_adj != 0]
    for value in nonzero.unique():
        assert min(abs(value.item() - t) for t in (0.1, 0.09, 0.01)) < 1e-6
    assert {round(v, 6) for v in nonzero.tolist()} >= {0.1, 0.09, 0.01}  # all three kinds occur
    torch.testing.assert_close(mm_adj.sum(1), torch.ones(40), rtol=0, atol=1e-5)
    torch.testing.assert_close(mm_adj.diagonal(), torch.full((40,), 0.1), rtol=0, atol=1e-6)
    assert not torch.allclose(mm_adj, mm_adj.t())


def test_freedom_single_modality_graph_is_that_graph_alone() -> None:
    x = torch.randn(30, 8, generator=torch.Generator().manual_seed(4))
    mm_adj = to_dense(graphs.freedom_mm_adj({"text": x}, k=10, image_weight=0.1))
    torch.testing.assert_close(mm_adj, dense_freedom_graph(x, 10), rtol=0, atol=0)
    assert torch.equal((mm_adj != 0).sum(1), torch.full((30,), 10))


def test_lattice_original_graph_matches_dense_reference() -> None:
    x = torch.randn(50, 16, generator=torch.Generator().manual_seed(5))
    e = graphs.lattice_original_graph(x, 10, block_rows=8)
    dense = to_dense(graphs.to_csr(e))
    torch.testing.assert_close(dense, dense_lattice_graph(x, 10), rtol=1e-5, atol=1e-7)
    assert torch.equal((dense != 0).sum(1), torch.full((50,), 10))
    assert not torch.allclose(dense, dense.t())


def test_sym_normalize_zero_row_gives_zero_not_inf() -> None:
    e = graphs.Entries(
        torch.tensor([0, 0, 2]), torch.tensor([0, 1, 2]), torch.tensor([1.0, 3.0, 0.0]), (3, 3)
    )
    out = to_dense(graphs.to_csr(graphs.sym_normalize(e)))
    dense = torch.zeros(3, 3)
    dense[0, 0], dense[0, 1] = 1.0, 3.0
    torch.testing.assert_close(out, dense_sym_normalize(dense))
    assert torch.isfinite(out).all()


def test_coalesce_sums_duplicates_and_keeps_gradient() -> None:
    values = torch.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    e = graphs.Entries(torch.tensor([1, 0, 1, 0]), torch.tensor([2, 1, 2, 0]), values, (2, 3))
    merged = graphs.coalesce(e)
    assert merged.rows.tolist() == [0, 0, 1] and merged.cols.tolist() == [0, 1, 2]
    assert merged.values.tolist() == [4.0, 2.0, 4.0]
    y = torch.sparse.mm(graphs.to_csr(e), torch.ones(3, 1)).sum()
    y.backward()
    assert values.grad.tolist() == [1.0, 1.0, 1.0, 1.0]


# ---------------------------------------------------------------------------------------------
# User-item graphs.
def small_bipartite() -> tuple[int, int, np.ndarray, np.ndarray]:
    users = np.array([0, 0, 0, 1, 1, 2, 3, 3, 3, 3])
    items = np.array([0, 1, 2, 0, 3, 1, 0, 1, 2, 3])
    return 5, 5, users, items  # user 4 and item 4 are isolated


def dense_bipartite(n_users: int, n_items: int, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    a = np.zeros((n_users + n_items,) * 2)
    a[users, items + n_users] = 1.0
    a[items + n_users, users] = 1.0
    return a


def test_ui_sym_norm_matches_dense_reference() -> None:
    n_users, n_items, users, items = small_bipartite()
    got = to_dense(graphs.ui_sym_norm(n_users, n_items, users, items)).numpy()
    a = dense_bipartite(n_users, n_items, users, items)
    d = np.power(a.sum(1) + 1e-7, -0.5)
    np.testing.assert_allclose(got, (d[:, None] * a * d[None, :]).astype(np.float32), rtol=1e-7)
    assert np.all(np.diag(got) == 0)
    np.testing.assert_array_equal(got, got.T)


def test_ui_row_norm_self_loops_matches_dense_reference() -> None:
    n_users, n_items, users, items = small_bipartite()
    got = to_dense(graphs.ui_row_norm_self_loops(n_users, n_items, users, items)).numpy()
    a = dense_bipartite(n_users, n_items, users, items) + np.eye(n_users + n_items)
    np.testing.assert_allclose(got, (a / a.sum(1, keepdims=True)).astype(np.float32), rtol=1e-7)
    np.testing.assert_allclose(got.sum(1), 1.0, rtol=1e-6)
    assert got[4, 4] == 1.0  # isolated user: only its self-loop


@pytest.mark.parametrize("dropout", [0.5, 0.8, 0.9])
def test_pruning_keeps_count_without_replacement_and_renormalises(dropout: float) -> None:
    rng = np.random.default_rng(0)
    n_users, n_items = 40, 30
    keys = np.unique(rng.integers(0, n_users * n_items, 600))
    users, items = torch.as_tensor(keys // n_items), torch.as_tensor(keys % n_items)
    weights = graphs.edge_norm_values(users, items, n_users, n_items)
    gen = torch.Generator().manual_seed(1)
    adj = to_dense(graphs.pruned_ui_graph(users, items, weights, dropout, n_users, n_items, generator=gen))
    keep = int(users.numel() * (1.0 - dropout))
    block = adj[:n_users, n_users:]
    assert int((block != 0).sum()) == keep  # distinct edges: sampled without replacement
    assert torch.equal(adj, adj.t())
    kept = block != 0
    original = torch.zeros(n_users, n_items, dtype=torch.bool)
    original[users, items] = True
    assert not (kept & ~original).any()  # only training edges
    d_u, d_i = kept.sum(1).double() + 1e-7, kept.sum(0).double() + 1e-7
    expected = (d_u[:, None] ** -0.5 * d_i[None, :] ** -0.5) * kept
    torch.testing.assert_close(block.double(), expected, rtol=1e-6, atol=0)


def test_pruning_prefers_edges_of_low_degree_nodes() -> None:
    # user 0 has 20 items (weights ~ 1/sqrt(20)); users 1..20 one item each (weight 1).
    users = torch.cat([torch.zeros(20, dtype=torch.int64), torch.arange(1, 21)])
    items = torch.cat([torch.arange(20), torch.arange(20, 40)])
    weights = graphs.edge_norm_values(users, items, 21, 40)
    gen = torch.Generator().manual_seed(0)
    hub_kept = 0
    for _ in range(200):
        adj = graphs.pruned_ui_graph(users, items, weights, 0.5, 21, 40, generator=gen)
        hub_kept += int((to_dense(adj)[0] != 0).sum())
    assert hub_kept / 200 < 7  # uniform sampling would keep 10 of the hub's 20 edges


def test_lightgcn_propagate_is_mean_of_layers() -> None:
    a = torch.tensor([[0.0, 0.5], [0.5, 0.0]])
    e0 = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    csr = graphs.to_csr(
        graphs.Entries(torch.tensor([0, 1]), torch.tensor([1, 0]), torch.tensor([0.5, 0.5]), (2, 2))
    )
    expected = (e0 + a @ e0 + a @ a @ e0) / 3
    torch.testing.assert_close(graphs.lightgcn_propagate(csr, e0, 2), expected)


def test_modality_slots() -> None:
    x = torch.zeros(3, 2)
    assert list(graphs.modality_slots({"fused": x}, "m")) == ["text"]
    assert list(graphs.modality_slots({"image": x}, "m")) == ["image"]
    assert sorted(graphs.modality_slots({"text": x, "image": x}, "m")) == ["image", "text"]
    with pytest.raises(ValueError, match="models.m"):
        graphs.modality_slots({"image": x, "fused": x}, "m")
    with pytest.raises(ValueError, match="needs item features"):
        graphs.modality_slots(None, "m")


def test_fixed_sparse_matmul_and_gradient_equal_torch_sparse_mm() -> None:
    gen = torch.Generator().manual_seed(7)
    rows, cols = torch.randint(0, 30, (200,), generator=gen), torch.randint(0, 20, (200,), generator=gen)
    csr = graphs.to_csr(graphs.Entries(rows, cols, torch.rand(200, generator=gen), (30, 20)))
    fixed = graphs.FixedSparse(csr)
    torch.testing.assert_close(fixed.csr_t.to_dense(), csr.to_dense().t(), rtol=0, atol=0)
    x = torch.randn(20, 8, generator=gen, requires_grad=True)
    weights = torch.randn(30, 8, generator=gen)
    ours = graphs.spmm(fixed, x)
    (ours * weights).sum().backward()
    ours_grad, x.grad = x.grad.clone(), None
    reference = torch.sparse.mm(csr, x)
    (reference * weights).sum().backward()
    assert torch.equal(ours, reference)
    torch.testing.assert_close(ours_grad, x.grad, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(ours_grad, csr.to_dense().t() @ weights, rtol=1e-5, atol=1e-5)


def test_duplicate_training_pairs_collapse_like_mmrec() -> None:
    n_users, n_items, users, items = small_bipartite()
    doubled = graphs.ui_sym_norm(n_users, n_items, np.tile(users, 2), np.tile(items, 2)).to_dense()
    assert torch.equal(doubled, graphs.ui_sym_norm(n_users, n_items, users, items).to_dense())


def test_spmm_with_trainable_values_matches_dense_gradients() -> None:
    gen = torch.Generator().manual_seed(8)
    rows, cols = torch.randint(0, 12, (50,), generator=gen), torch.randint(0, 12, (50,), generator=gen)
    merged = graphs.coalesce(graphs.Entries(rows, cols, torch.rand(50, generator=gen), (12, 12)))
    values = merged.values.clone().requires_grad_()
    x = torch.randn(12, 4, generator=gen, requires_grad=True)
    weights = torch.randn(12, 4, generator=gen)
    (graphs.spmm(graphs.Entries(merged.rows, merged.cols, values, (12, 12)), x) * weights).sum().backward()
    dense_values = values.detach().clone().requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    dense = torch.zeros(12, 12).index_put((merged.rows, merged.cols), dense_values)
    ((dense @ x_ref) * weights).sum().backward()
    torch.testing.assert_close(values.grad, dense_values.grad, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-5, atol=1e-6)
