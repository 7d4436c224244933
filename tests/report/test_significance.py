"""Significance code against hand-computed values and scipy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from vlmrec.report.cells import load_cells
from vlmrec.report.significance import (
    block_comparisons,
    holm,
    paired_bootstrap_ci,
    significance_table,
    wilcoxon_test,
)


def test_holm_matches_hand_computed_example() -> None:
    # Sorted: 0.005*4 = 0.02; 0.01*3 = 0.03; 0.03*2 = 0.06; 0.04*1 = 0.04 -> max(0.06, 0.04) = 0.06.
    adjusted = holm([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(adjusted, [0.03, 0.06, 0.06, 0.02])


def test_holm_caps_at_one_and_keeps_single_p() -> None:
    np.testing.assert_allclose(holm([0.6, 0.7]), [1.0, 1.0])
    np.testing.assert_allclose(holm([0.2]), [0.2])
    assert holm([]).size == 0


def test_holm_rejections_equal_step_down_procedure() -> None:
    rng = np.random.default_rng(3)
    for _ in range(50):
        p = rng.random(7) ** 3
        alpha = 0.05
        # Holm's step-down procedure, written out directly.
        order = np.argsort(p)
        reject = np.zeros(p.size, dtype=bool)
        for i, j in enumerate(order):
            if p[j] > alpha / (p.size - i):
                break
            reject[j] = True
        np.testing.assert_array_equal(holm(p) < alpha, reject)


def test_wilcoxon_exact_p_by_hand() -> None:
    # Five positive differences: W- = 0; the exact two-sided p is 2 / 2**5 = 0.0625.
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0]) + 10
    stat, p = wilcoxon_test(x, np.full(5, 10.0))
    assert stat == 0.0
    assert p == pytest.approx(0.0625)


def test_wilcoxon_matches_scipy_with_ties_and_zeros() -> None:
    rng = np.random.default_rng(0)
    x = np.round(rng.random(200), 2)
    y = np.where(rng.random(200) < 0.3, x, np.round(rng.random(200), 2))  # 30 % zero differences
    stat, p = wilcoxon_test(x, y)
    expected = stats.wilcoxon(x, y, zero_method="wilcox")
    assert stat == pytest.approx(expected.statistic)
    assert p == pytest.approx(expected.pvalue)


def test_wilcoxon_all_equal_is_not_significant() -> None:
    assert wilcoxon_test(np.ones(10), np.ones(10)) == (0.0, 1.0)
    with pytest.raises(ValueError, match="differ in length"):
        wilcoxon_test(np.ones(3), np.ones(4))


def test_bootstrap_ci_agrees_with_scipy_and_is_seeded() -> None:
    rng = np.random.default_rng(1)
    d = rng.normal(0.3, 1.0, 400)
    low, high = paired_bootstrap_ci(d, samples=4000, seed=5)
    ref = stats.bootstrap((d,), np.mean, n_resamples=4000, method="percentile", random_state=7)
    # Two independent Monte-Carlo runs: the ends agree to a fraction of the standard error.
    se = d.std(ddof=1) / np.sqrt(d.size)
    assert abs(low - ref.confidence_interval.low) < 0.15 * se
    assert abs(high - ref.confidence_interval.high) < 0.15 * se
    assert (high - low) == pytest.approx(2 * 1.96 * se, rel=0.1)
    assert paired_bootstrap_ci(d, 4000, 5) == (low, high)
    assert paired_bootstrap_ci(d, 4000, 6) != (low, high)


def test_bootstrap_chunking_gives_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    import vlmrec.report.significance as sig

    d = np.random.default_rng(2).normal(size=50)
    whole = sig.paired_bootstrap_ci(d, 300, seed=1)
    monkeypatch.setattr(sig, "_CHUNK_CELLS", 50 * 7)  # 7 resamples per chunk
    assert sig.paired_bootstrap_ci(d, 300, seed=1) == pytest.approx(whole)


def test_block_comparisons_on_fixture(make_run, fake_run) -> None:
    run = fake_run(datasets=("baby",), models={"freedom": ("original", "visual", "textual", "dual")})
    _, paths = make_run(run)
    cells = load_cells(paths)
    rows = block_comparisons(cells, "recall", 20, "original", 0.05, 500, seed=1)
    by = {(r.feature, r.comparison): r for r in rows}
    # dual has the largest shift: it is the best, so the references are original and dual.
    assert {r.reference for r in rows} == {"original", "dual"}
    assert ("dual", "vs_best") not in by and ("original", "vs_baseline") not in by
    # Distinct pairs: visual-original, textual-original, dual-original, visual-dual, textual-dual.
    assert all(r.n_tests == 5 for r in rows)
    # The mirrored pair shares its test; its CI is the negated, swapped interval.
    a, b = by[("dual", "vs_baseline")], by[("original", "vs_best")]
    assert a.p_holm == b.p_holm and a.ci_low == pytest.approx(-b.ci_high)
    # Per-user means averaged over seeds reproduce metrics.json's mean over seeds.
    original = next(c for c in cells if c.feature == "original")
    assert b.mean_feature == pytest.approx(original.value("recall@20"))
    # Strong shifts are detected, and the CI agrees in sign with the mean difference.
    assert by[("visual", "vs_baseline")].significant
    assert by[("visual", "vs_baseline")].ci_high < 0
    # Holm never lowers a p-value.
    assert all(r.p_holm >= r.p_value for r in rows)


def test_identical_features_are_not_significant(make_run, fake_run) -> None:
    run = fake_run(datasets=("baby",), models={"freedom": ("original", "textual")}, seeds=(1,))
    root, paths = make_run(run)
    # Make textual an exact copy of original's per-user values.
    frame = pd.read_parquet(root / "baby/runs/freedom/original/per_user_test.parquet")
    frame.to_parquet(root / "baby/runs/freedom/textual/per_user_test.parquet", index=False)
    table = significance_table(load_cells(paths), [("recall", 20)], "original", 0.05, 200, 0)
    assert set(table["p_value"]) == {1.0}
    assert not table["significant"].any()
    assert (table["ci_low"] == 0).all() and (table["ci_high"] == 0).all()


def test_missing_metric_column_names_file(make_run, fake_run) -> None:
    run = fake_run(datasets=("baby",), models={"freedom": ("original", "textual")}, seeds=(1,))
    _, paths = make_run(run)
    with pytest.raises(ValueError, match=r"per_user_test.parquet: column 'map@20' missing"):
        significance_table(load_cells(paths), [("map", 20)], "original", 0.05, 200, 0)


def test_every_feature_is_tested_against_the_tuned_lightgcn(make_run, fake_run) -> None:
    run = fake_run(datasets=("baby", "sports"))  # freedom x 4 features + lightgcn (id) per dataset
    _, paths = make_run(run)
    table = significance_table(load_cells(paths), [("recall", 20)], "original", 0.05, 300, 0)
    vs_id = table[table["comparison"] == "vs_lightgcn"]
    assert set(zip(vs_id["dataset"], vs_id["feature"])) == {
        (d, f) for d in ("baby", "sports") for f in ("original", "visual", "textual", "dual")
    }
    assert set(vs_id["reference"]) == {"lightgcn"} and set(vs_id["model"]) == {"freedom"}
    assert table[table["model"] == "lightgcn"].empty  # its own block has nothing to compare
    # The LightGCN cell's per-user values are the reference: mean_reference is its mean.
    cells = {(c.dataset, c.model, c.feature): c for c in load_cells(paths)}
    for row in vs_id.itertuples():
        assert row.mean_reference == pytest.approx(cells[(row.dataset, "lightgcn", "id")].value("recall@20"))
    # visual is shifted down by 0.05 from the id-level values: significantly worse than LightGCN.
    visual = vs_id[vs_id["feature"] == "visual"]
    assert visual["significant"].all() and (visual["mean_diff"] < 0).all()
    # Holm family of a block: 5 feature pairs + 4 LightGCN pairs.
    assert set(table[table["model"] == "freedom"]["n_tests"]) == {9}


def test_table_marks_cells_that_differ_from_lightgcn(make_run, fake_run) -> None:
    from vlmrec.report.table import SECTION, format_value, legend, tidy_table

    _, paths = make_run(fake_run(datasets=("baby",)))
    cells = load_cells(paths)
    sig = significance_table(cells, [("recall", 20)], "original", 0.05, 300, 0)
    frame = tidy_table(cells, [("recall", 20)], "original", sig, 0.05)
    visual = frame[(frame["model"] == "freedom") & (frame["feature"] == "visual")].iloc[0]
    assert visual["sig_vs_lightgcn"] and SECTION in format_value(visual)
    assert r"\S" in format_value(visual, "tex")
    lightgcn = frame[frame["model"] == "lightgcn"].iloc[0]
    assert not lightgcn["sig_vs_lightgcn"] and SECTION not in format_value(lightgcn)
    assert SECTION in legend("original", 0.05, [2])
