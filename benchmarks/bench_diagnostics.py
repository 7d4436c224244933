"""Feature diagnostics at Baby size (7,050 items, 19,445 users, ~128k training pairs), synthetic.

    python benchmarks/bench_diagnostics.py [--dims 1536 1536] [--threads 2]

Times `diagnose_features` (every measure, every modality, the joint one and the cross-modal block)
on random features of the given dimensions and random interactions of Baby's size; prints seconds.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from vlmrec.diagnostics.measures import DiagnosticSettings
from vlmrec.diagnostics.run import diagnose_features


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=7050)
    parser.add_argument("--users", type=int, default=19445)
    parser.add_argument("--pairs", type=int, default=128_633)
    parser.add_argument("--dims", type=int, nargs="+", default=[1536, 1536])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    users = rng.integers(0, args.users, args.pairs)
    items = np.minimum(rng.zipf(1.3, args.pairs) - 1, args.items - 1)  # long-tailed popularity
    names = ["image", "text"] if len(args.dims) == 2 else ["fused"]
    features = {n: rng.normal(size=(args.items, d)).astype(np.float32) for n, d in zip(names, args.dims)}
    started = time.perf_counter()
    result = diagnose_features(features, (users, items), args.items, DiagnosticSettings(), {"model": "m"})
    elapsed = time.perf_counter() - started
    print(f"{args.items} items, dims {args.dims}: {elapsed:.1f} s ({sorted(result['modalities'])})")


if __name__ == "__main__":
    main()
