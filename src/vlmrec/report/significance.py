"""Paired significance tests over users: Wilcoxon signed-rank, paired bootstrap CI, Holm.

The paper reports single runs; these tests say whether a gap between two feature sets of the same
(dataset, model) block is larger than what the users' spread explains. Each comparison pairs the
two cells' per-user test values (each user's value averaged over seeds first).

Three references per feature: the baseline feature (Original), the block's best feature, and the
dataset's tuned ID-only **LightGCN** cell ("does this feature help at all over collaborative
filtering alone?", ``comparison: vs_lightgcn``, reference ``lightgcn``). All distinct pairs of a
(dataset, model, metric@k) block, the LightGCN ones included, form its Holm family.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from vlmrec.report.cells import Cell, load_per_user

log = logging.getLogger(__name__)

# The ID-only model every feature-based cell is also tested against (its cells' feature is "id").
ID_REFERENCE_MODEL = "lightgcn"

# Bootstrap resamples are drawn in chunks so memory stays ~ n_users * _CHUNK_CELLS / n_users values.
_CHUNK_CELLS = 4_000_000

SIGNIFICANCE_COLUMNS = [
    "dataset",
    "model",
    "metric",
    "k",
    "feature",
    "reference",
    "comparison",
    "n_users",
    "mean_feature",
    "mean_reference",
    "mean_diff",
    "ci_low",
    "ci_high",
    "wilcoxon_stat",
    "p_value",
    "p_holm",
    "significant",
    "n_tests",
]


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm–Bonferroni adjusted p-values, in the input order.

    Sorted ascending, p_(i) is multiplied by (m - i + 1) and made monotone with a running maximum,
    so `adjusted < alpha` is exactly Holm's step-down rejection at level alpha.
    """
    p = np.asarray(p_values, dtype=float)
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    scaled = (m - np.arange(m)) * p[order]
    adjusted_sorted = np.minimum(np.maximum.accumulate(scaled), 1.0)
    adjusted = np.empty(m)
    adjusted[order] = adjusted_sorted
    return adjusted


def wilcoxon_test(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Two-sided Wilcoxon signed-rank test of paired samples; (statistic, p-value).

    Users with equal values (often both 0 for a top-k metric) are dropped, as in Wilcoxon's
    original test (scipy's default `zero_method="wilcox"`); all-equal pairs give p = 1.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"paired samples differ in length: {x.shape} vs {y.shape}")
    if not np.any(x - y):
        return 0.0, 1.0
    result = stats.wilcoxon(x, y, zero_method="wilcox", alternative="two-sided")
    return float(result.statistic), float(result.pvalue)


def paired_bootstrap_ci(
    differences: np.ndarray, samples: int, seed: int, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean paired difference: resample users with replacement."""
    d = np.asarray(differences, dtype=float)
    if d.size == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = np.empty(samples)
    chunk = max(1, _CHUNK_CELLS // d.size)
    for start in range(0, samples, chunk):
        stop = min(samples, start + chunk)
        idx = rng.integers(0, d.size, size=(stop - start, d.size))
        means[start:stop] = d[idx].mean(axis=1)
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(means, [tail, 100.0 - tail])
    return float(low), float(high)


@dataclass
class Comparison:
    """One row of results/significance.csv."""

    dataset: str
    model: str
    metric: str
    k: int
    feature: str
    reference: str
    comparison: str  # "vs_baseline" | "vs_best" | "vs_lightgcn"
    n_users: int
    mean_feature: float
    mean_reference: float
    mean_diff: float
    ci_low: float
    ci_high: float
    wilcoxon_stat: float
    p_value: float
    p_holm: float = math.nan
    significant: bool = False
    n_tests: int = 0


def _pair(a: pd.Series, b: pd.Series, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Align two per-user series on their common users (they share the test split)."""
    common = a.index.intersection(b.index)
    if len(common) < max(len(a), len(b)):
        log.warning("%s: %d/%d users in common; testing on the common ones", where, len(common), len(a))
    return a.loc[common].to_numpy(), b.loc[common].to_numpy()


def best_feature(cells: Sequence[Cell], key: str) -> str | None:
    """Feature with the highest mean test value in a block (first in block order on ties)."""
    scored = [(c.value(key), c.feature) for c in cells if c.ok and not math.isnan(c.value(key))]
    if not scored:
        return None
    top = max(v for v, _ in scored)
    return next(f for v, f in scored if v == top)


def block_comparisons(
    block: Sequence[Cell],
    metric: str,
    k: int,
    baseline: str,
    alpha: float,
    bootstrap_samples: int,
    seed: int,
    id_reference: Cell | None = None,
) -> list[Comparison]:
    """Every feature vs `baseline`, vs the block's best and vs `id_reference` (the dataset's tuned
    LightGCN cell, when given and usable), Holm-corrected across the block.

    The Holm family is the set of distinct pairs tested in this (dataset, model, metric@k) block;
    when the best feature is the baseline the two comparisons are the same test, counted once.
    """
    key = f"{metric}@{k}"
    usable = {c.feature: c for c in block if c.ok and c.per_user_path.exists()}
    for c in block:
        if c.feature not in usable:
            log.warning("%s: no per-user test metrics (status %s); not tested", c.key, c.status)
    best = best_feature(list(usable.values()), key)
    wanted: list[tuple[str, str, str]] = []
    for feature in usable:
        for reference, kind in ((baseline, "vs_baseline"), (best, "vs_best")):
            if reference is not None and reference in usable and feature != reference:
                wanted.append((feature, reference, kind))
    per_user = {f: load_per_user(c, key) for f, c in usable.items()}
    if id_reference is not None and id_reference.ok and id_reference.per_user_path.exists():
        if ID_REFERENCE_MODEL in per_user:
            raise ValueError(f"a feature is named '{ID_REFERENCE_MODEL}', the ID-only reference's label")
        per_user[ID_REFERENCE_MODEL] = load_per_user(id_reference, key)
        wanted += [(feature, ID_REFERENCE_MODEL, "vs_lightgcn") for feature in usable]
    if not wanted:
        return []
    # One test per unordered pair; stored as (first, second) and mirrored for the reverse order.
    tests: dict[frozenset[str], tuple[str, float, float, float, float]] = {}
    rows: list[Comparison] = []
    for feature, reference, kind in wanted:
        dataset, model = usable[feature].dataset, usable[feature].model
        x, y = _pair(per_user[feature], per_user[reference], f"{dataset}/{model} {feature} vs {reference}")
        pair = frozenset((feature, reference))
        if pair not in tests:
            stat, p = wilcoxon_test(x, y)
            # Same seed for every pair: a comparison's CI does not depend on which others ran.
            low, high = paired_bootstrap_ci(x - y, bootstrap_samples, seed)
            tests[pair] = (feature, stat, p, low, high)
        first, stat, p, low, high = tests[pair]
        if first != feature:  # the CI of (reference - feature) mirrored; Wilcoxon is symmetric
            low, high = -high, -low
        rows.append(
            Comparison(
                dataset=dataset,
                model=model,
                metric=metric,
                k=k,
                feature=feature,
                reference=reference,
                comparison=kind,
                n_users=int(x.size),
                mean_feature=float(x.mean()),
                mean_reference=float(y.mean()),
                mean_diff=float((x - y).mean()),
                ci_low=low,
                ci_high=high,
                wilcoxon_stat=stat,
                p_value=p,
            )
        )
    pairs = list(tests)
    adjusted = dict(zip(pairs, holm([tests[p][2] for p in pairs])))
    for row in rows:
        row.p_holm = float(adjusted[frozenset((row.feature, row.reference))])
        row.significant = bool(row.p_holm < alpha)
        row.n_tests = len(pairs)
    return rows


def significance_table(
    cells: Sequence[Cell],
    metric_keys: Sequence[tuple[str, int]],
    baseline: str,
    alpha: float,
    bootstrap_samples: int,
    seed: int,
) -> pd.DataFrame:
    """All comparisons of all (dataset, model) blocks for each (metric, k)."""
    blocks: dict[tuple[str, str], list[Cell]] = {}
    for cell in cells:
        blocks.setdefault((cell.dataset, cell.model), []).append(cell)
    rows: list[dict] = []
    for (dataset, model), block in blocks.items():
        id_reference = _id_reference(blocks.get((dataset, ID_REFERENCE_MODEL), []), model)
        for metric, k in metric_keys:
            comparisons = block_comparisons(
                block, metric, k, baseline, alpha, bootstrap_samples, seed, id_reference
            )
            for row in comparisons:
                rows.append(asdict(row))
            log.info("significance %s/%s %s@%d done", dataset, model, metric, k)
    return pd.DataFrame(rows, columns=SIGNIFICANCE_COLUMNS)


def _id_reference(lightgcn_cells: Sequence[Cell], model: str) -> Cell | None:
    """The dataset's tuned LightGCN cell, for every other model's block (None for LightGCN's own)."""
    if model == ID_REFERENCE_MODEL or not lightgcn_cells:
        return None
    if len(lightgcn_cells) > 1:
        log.warning("%d LightGCN cells for one dataset; testing against the first", len(lightgcn_cells))
    return lightgcn_cells[0]
