"""Benchmark: ingest + clean + iterative 5-core + re-index + split on a Sports-sized ratings file.

Generates (untimed) a 3.27M-row `ratings_<Cat>.csv` shaped like Amazon 2014 Sports_and_Outdoors:
~2M users and ~480k items with power-law activity, so the 5-core needs several rounds and keeps
a few hundred thousand rows. The timed part runs in a fresh child process so its peak RSS is
its own. Target: under 15 s and under 2 GB on 2 cores.

    python benchmarks/bench_preprocess.py [--rows 3268695] [--keep FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TARGET_SECONDS = 15.0
TARGET_BYTES = 2 * 1024**3


def _power_law_choice(rng: np.random.Generator, n: int, size: int, exponent: float) -> np.ndarray:
    """`size` draws from n ids with P(rank r) ~ r^-exponent, ids shuffled so rank != file order."""
    weights = np.arange(1, n + 1, dtype=np.float64) ** -exponent
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    ranks = np.searchsorted(cdf, rng.random(size), side="right")
    return rng.permutation(n)[np.minimum(ranks, n - 1)]


def generate(path: Path, rows: int, seed: int = 0) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    n_users, n_items = int(rows * 0.61), int(rows * 0.146)  # Sports: 1.99M users, 478k items
    users = _power_law_choice(rng, n_users, rows, 0.62)
    items = _power_law_choice(rng, n_items, rows, 0.78)
    user_ids = np.char.add("A", np.char.zfill(np.char.mod("%X", users), 13))
    item_ids = np.char.add("B", np.char.zfill(np.char.mod("%X", items), 9))
    ratings = rng.integers(1, 6, rows).astype(np.float32)
    timestamps = rng.integers(946_684_800, 1_406_073_600, rows) // 86_400 * 86_400
    table = pa.table({"u": user_ids, "i": item_ids, "r": ratings, "t": timestamps})
    pacsv.write_csv(table, path, write_options=pacsv.WriteOptions(include_header=False, quoting_style="none"))


def measure(path: str) -> dict[str, float]:
    """The timed part (runs in the child)."""
    import pandas as pd

    from vlmrec.data.build import kcore_candidates
    from vlmrec.data.sources import read_ratings_codes
    from vlmrec.data.split import per_user_random

    started = time.perf_counter()
    ratings = read_ratings_codes(path, "amazon2014")
    ingested = time.perf_counter()
    kept, rounds = kcore_candidates(ratings, 5)
    filtered = time.perf_counter()
    user_codes, _ = pd.factorize(kept["user"].to_numpy())
    item_codes, _ = pd.factorize(kept["item"].to_numpy())
    labels = per_user_random(user_codes, seed=999)
    done = time.perf_counter()
    return {
        "rows_in": len(ratings),
        "rows_5core": len(kept),
        "users_5core": int(user_codes.max()) + 1,
        "items_5core": int(item_codes.max()) + 1,
        "kcore_rounds": rounds,
        "train_rows": int((labels == 0).sum()),
        "ingest_s": round(ingested - started, 2),
        "kcore_s": round(filtered - ingested, 2),
        "reindex_split_s": round(done - filtered, 2),
        "total_s": round(done - started, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=3_268_695)
    parser.add_argument("--keep", help="reuse/keep the generated CSV at this path")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.keep) if args.keep else Path(tmp) / "ratings_Sports_and_Outdoors.csv"
        if not path.exists():
            t0 = time.perf_counter()
            generate(path, args.rows)
            print(f"generated {path} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f}s")
        env = {**os.environ, "OMP_NUM_THREADS": "2", "ARROW_NUM_THREADS": "2"}
        child = subprocess.run(
            [sys.executable, __file__, "--measure", str(path)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if child.returncode != 0:
            print(child.stderr, file=sys.stderr)
            return child.returncode
        result = json.loads(child.stdout.strip().splitlines()[-1])
    for key, value in result.items():
        print(f"{key:>16}: {value}")
    ok = result["total_s"] < TARGET_SECONDS and result["peak_rss_mb"] * 1024**2 < TARGET_BYTES
    print(f"target <{TARGET_SECONDS:.0f}s and <2 GB: {'met' if ok else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
