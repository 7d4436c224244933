"""Feature diagnostics against dense references and constructed cases with a known answer."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy import stats

from vlmrec.diagnostics import measures
from vlmrec.diagnostics.measures import DiagnosticSettings
from vlmrec.diagnostics.run import cross_modal_reason, diagnose_features, joint_matrix


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _interactions(n_users: int, n_items: int, density: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    dense = rng.random((n_users, n_items)) < density
    dense[np.arange(n_users), rng.integers(0, n_items, n_users)] = True
    users, items = np.nonzero(dense)
    return users, items


def _dense_knn(sim: np.ndarray, k: int) -> np.ndarray:
    """Reference: k largest off-diagonal entries per row, ties to the lower column (stable sort)."""
    sim = sim.copy()
    np.fill_diagonal(sim, -np.inf)
    return np.argsort(-sim, axis=1, kind="stable")[:, :k]


def test_feature_knn_matches_dense_reference_and_block_size_does_not_matter() -> None:
    x = np.random.default_rng(0).normal(size=(37, 6))
    expected = _dense_knn(_unit(x) @ _unit(x).T, 5)
    for block_rows in (1, 7, 100):
        values, indices = measures.feature_knn(x, 5, block_rows=block_rows, dtype="float64")
        np.testing.assert_array_equal(np.sort(indices, axis=1), np.sort(expected, axis=1))
        ref = np.take_along_axis(_unit(x) @ _unit(x).T, indices, axis=1)
        np.testing.assert_allclose(values, ref, atol=1e-7)
        assert not (indices == np.arange(37)[:, None]).any()  # self excluded


def test_co_interaction_knn_matches_dense_cosine_of_user_vectors() -> None:
    users, items = _interactions(40, 25, 0.15, seed=1)
    matrix = measures.co_interaction_matrix(users, items, 25)
    dense = np.zeros((25, 40))
    dense[items, users] = 1.0
    sim = _unit(dense) @ _unit(dense).T
    values, indices = measures.co_interaction_knn(matrix, 4, block_rows=6)
    np.testing.assert_array_equal(indices, _dense_knn(np.round(sim, 12), 4))
    np.testing.assert_allclose(values, np.take_along_axis(sim, indices, axis=1), atol=1e-8)


def test_feature_equal_to_co_interaction_embedding_gives_overlap_one() -> None:
    users, items = _interactions(60, 30, 0.3, seed=2)
    matrix = measures.co_interaction_matrix(users, items, 30)
    embedding = matrix.toarray()  # item rows of the user-item matrix: the behaviour itself
    settings = DiagnosticSettings(k=5, dtype="float64")
    behaviour = measures.co_interaction_knn(matrix, settings.k)
    _, indices = measures.feature_knn(embedding, settings.k, dtype="float64")
    agreement = measures.behaviour_agreement(embedding, indices, matrix, behaviour, settings)
    assert agreement["overlap@5"] == pytest.approx(1.0)
    assert agreement["overlap_items"] == 30
    assert agreement["spearman"] == pytest.approx(1.0, abs=1e-4)  # float32 pair cosines vs exact ties


def test_random_features_give_low_overlap() -> None:
    users, items = _interactions(200, 120, 0.05, seed=3)
    matrix = measures.co_interaction_matrix(users, items, 120)
    x = np.random.default_rng(4).normal(size=(120, 16))
    settings = DiagnosticSettings(k=10)
    behaviour = measures.co_interaction_knn(matrix, settings.k)
    _, indices = measures.feature_knn(x, settings.k)
    agreement = measures.behaviour_agreement(x, indices, matrix, behaviour, settings)
    assert agreement["overlap@10"] < 0.3  # chance level is 10/119


def test_overlap_is_counted_only_on_items_with_k_co_interacting_items() -> None:
    feature = np.array([[1, 2], [0, 2], [0, 1]])
    behaviour = np.array([[1, 2], [0, 2], [0, 1]])
    values = np.array([[0.5, 0.2], [0.5, 0.0], [0.2, 0.1]])  # item 1 has one co-interacting item only
    overlap, used = measures.knn_overlap(feature, behaviour, values)
    assert (overlap, used) == (1.0, 2)
    feature = np.array([[1, 3], [0, 3], [0, 1]])  # item 0: one of two right; item 2: both
    assert measures.knn_overlap(feature, behaviour, values)[0] == pytest.approx((0.5 + 1.0) / 2)


def test_identical_vectors_are_all_duplicates_and_anisotropic() -> None:
    x = np.tile(np.random.default_rng(5).normal(size=(1, 8)), (20, 1))
    geometry, _ = measures.geometry(x, DiagnosticSettings(k=3))
    assert geometry["duplicate_share"] == 1.0
    assert geometry["anisotropy"] == pytest.approx(1.0)
    assert geometry["effective_rank"] == 0.0  # no variance around the mean at all


def test_random_isotropic_vectors_have_anisotropy_near_zero_and_full_effective_rank() -> None:
    x = np.random.default_rng(6).normal(size=(1500, 16))
    geometry, _ = measures.geometry(x, DiagnosticSettings(k=5))
    assert abs(geometry["anisotropy"]) < 0.01
    assert geometry["effective_rank"] > 15.0  # of 16 dimensions
    assert geometry["duplicate_share"] == 0.0


def test_anisotropy_equals_dense_mean_offdiagonal_cosine() -> None:
    x = np.random.default_rng(7).normal(size=(30, 5)) + 1.0
    sim = _unit(x) @ _unit(x).T
    expected = sim[~np.eye(30, dtype=bool)].mean()
    assert measures.mean_offdiagonal_cosine(x) == pytest.approx(expected, abs=1e-12)
    y = np.random.default_rng(8).normal(size=(30, 5))
    cross = _unit(x) @ _unit(y).T
    assert measures.mean_offdiagonal_cosine(x, y) == pytest.approx(cross[~np.eye(30, dtype=bool)].mean())


@pytest.mark.parametrize("shape", [(50, 6), (6, 50)])
def test_effective_rank_equals_participation_ratio_of_singular_values(shape: tuple[int, int]) -> None:
    x = np.random.default_rng(9).normal(size=shape) * np.linspace(0.2, 3.0, shape[1])
    centred = _unit(x) - _unit(x).mean(axis=0)
    s = np.linalg.svd(centred, compute_uv=False)
    expected = (s**2).sum() ** 2 / (s**4).sum()
    assert measures.effective_rank(x, block_rows=4) == pytest.approx(expected, rel=1e-5)


def test_effective_rank_of_a_rank_two_set_is_at_most_two() -> None:
    basis = np.random.default_rng(10).normal(size=(2, 12))
    x = np.random.default_rng(11).normal(size=(300, 2)) @ basis
    assert 1.0 < measures.effective_rank(x) <= 2.0 + 1e-6


def test_hubness_is_skew_of_k_occurrence() -> None:
    indices = np.array([[1, 2], [0, 2], [0, 1], [2, 0], [2, 1]])
    counts = np.bincount(indices.ravel(), minlength=5)
    assert measures.hubness(indices, 5) == pytest.approx(stats.skew(counts))
    assert measures.hubness(np.array([[1], [2], [0]]), 3) == 0.0  # everyone listed once: no hubs


def test_sample_pairs_all_pairs_when_few_seeded_otherwise() -> None:
    pairs = measures.sample_pairs(6, 100, seed=1)
    assert len(pairs) == 15 and (pairs[:, 0] < pairs[:, 1]).all()
    a = measures.sample_pairs(1000, 500, seed=3)
    np.testing.assert_array_equal(a, measures.sample_pairs(1000, 500, seed=3))
    assert (a[:, 0] < a[:, 1]).all()
    assert not np.array_equal(a, measures.sample_pairs(1000, 500, seed=4))


def test_co_interaction_pair_similarity_matches_dense() -> None:
    users, items = _interactions(30, 12, 0.3, seed=12)
    matrix = measures.co_interaction_matrix(users, items, 12)
    dense = np.zeros((12, 30))
    dense[items, users] = 1
    pairs = measures.sample_pairs(12, 1000, seed=0)
    sim = _unit(dense) @ _unit(dense).T
    np.testing.assert_allclose(
        measures.co_interaction_pair_similarity(matrix, pairs), sim[pairs[:, 0], pairs[:, 1]]
    )
    assert isinstance(matrix, sp.csr_matrix)


def test_cross_modal_paired_vs_random() -> None:
    rng = np.random.default_rng(13)
    image = rng.normal(size=(200, 8))
    aligned = measures.cross_modal(image, image + 0.1 * rng.normal(size=image.shape), DiagnosticSettings())
    assert aligned["cross_modal_paired"] > 0.95
    assert abs(aligned["cross_modal_random"]) < 0.05
    unrelated = measures.cross_modal(image, rng.normal(size=image.shape), DiagnosticSettings())
    assert abs(unrelated["cross_modal_gap"]) < 0.1


def test_cross_modal_only_for_one_model_with_one_dimension() -> None:
    same = {"image": np.zeros((3, 4)), "text": np.zeros((3, 4))}
    assert cross_modal_reason(same, {"model": "vlm2vec"}) is None
    assert "different models" in cross_modal_reason(same, {"models": {"image": "a", "text": "b"}})
    assert "dimensions" in cross_modal_reason({"image": np.zeros((3, 4)), "text": np.zeros((3, 5))}, {})
    assert "exactly" in cross_modal_reason({"fused": np.zeros((3, 4))}, {"model": "m"})


def test_joint_cosine_is_the_mean_of_modality_cosines() -> None:
    rng = np.random.default_rng(14)
    features = {"image": rng.normal(size=(10, 3)), "text": rng.normal(size=(10, 5))}
    joint = joint_matrix(features)
    mean_cos = 0.5 * (_unit(features["image"]) @ _unit(features["image"]).T) + 0.5 * (
        _unit(features["text"]) @ _unit(features["text"]).T
    )
    np.testing.assert_allclose(joint @ joint.T, mean_cos, atol=1e-12)


def test_diagnose_features_is_seeded_and_reports_every_modality() -> None:
    users, items = _interactions(80, 40, 0.1, seed=15)
    rng = np.random.default_rng(16)
    features = {"image": rng.normal(size=(40, 8)), "text": rng.normal(size=(40, 8))}
    settings = DiagnosticSettings(k=5, n_pairs=300, seed=3)
    first = diagnose_features(features, (users, items), 40, settings, {"model": "one"})
    assert set(first["modalities"]) == {"image", "text", "joint"}
    assert set(first["cross_modal"]) == {"cross_modal_paired", "cross_modal_random", "cross_modal_gap"}
    assert first == diagnose_features(features, (users, items), 40, settings, {"model": "one"})


def test_pair_cosines_read_off_the_knn_blocks_equal_direct_ones() -> None:
    x = np.random.default_rng(17).normal(size=(45, 7))
    pairs = measures.sample_pairs(45, 200, seed=2)
    values, indices, cosines = measures.feature_knn_with_pairs(x, 4, pairs, block_rows=8)
    np.testing.assert_allclose(cosines, measures.pair_cosines(x, pairs), atol=1e-6)
    ref_values, ref_indices = measures.feature_knn(x, 4, block_rows=8)
    np.testing.assert_array_equal(indices, ref_indices)
    np.testing.assert_allclose(values, ref_values)
