"""Benchmark every registered model's training/evaluation speed and memory on Baby-sized data.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_train.py                # real Baby sample if present
    .venv/bin/python benchmarks/bench_train.py --data synthetic                    # 19,445 x 7,050, 160,792
    .venv/bin/python benchmarks/bench_train.py --models mgcn lgmrec --feature-sets image:1536+text:1536
    .venv/bin/python benchmarks/bench_train.py --device cuda --big-items 63000
    .venv/bin/python benchmarks/bench_train.py --big-items 0                       # skip the 63k graph check

Per (model, feature set): seconds per training epoch (batch 2048, one uniform negative per positive
rejected while in the user's training history, Adam, full-graph forward per batch as in MMRec),
seconds per full evaluation (prepare_eval + score every user in batches of 4096, mask training items,
top-50), and peak memory. Each configuration runs in a fresh subprocess so its peak RSS is its own.
ID-only models (LightGCN) run once per model, not per feature set; a model without training
(ItemKNNCBF) reports its build and evaluation only. Then, per graph-based model (``--big-models``), the
build, one training batch with backward and one evaluation batch on a 63,000-item catalogue (Elec
size) with the peak memory: no model may hold an n_items² matrix (LATTICE target < 8 GB).

Targets on 2 CPU cores: FREEDOM <= 4 s/epoch, <= 1.5 s/eval; LATTICE <= 5 s/epoch, <= 3 s/eval.
Features are random: speed does not depend on their values.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from vlmrec.models import registry
from vlmrec.models.base import InteractionData

REPO = Path(__file__).resolve().parents[1]
BABY_SAMPLE = REPO.parent / "shared" / "data" / "amazon-baby-mmrec" / "baby-first-users.inter"
TARGETS = {"freedom": (4.0, 1.5), "lattice": (5.0, 3.0)}
TRAIN_BATCH, EVAL_BATCH, TOPK = 2048, 4096, 50


# ---------------------------------------------------------------------------------------------
# Data.
def load_data(kind: str) -> tuple[InteractionData, str]:
    if kind == "auto":
        kind = "baby-sample" if BABY_SAMPLE.exists() else "synthetic"
    if kind == "baby-sample":
        table = np.loadtxt(BABY_SAMPLE, delimiter="\t", skiprows=1, usecols=(0, 1, 4), dtype=np.int64)
        train = table[table[:, 2] == 0]
        pairs = np.unique(train[:, :2], axis=0)
        n_users, n_items = int(table[:, 0].max()) + 1, int(table[:, 1].max()) + 1
        data = InteractionData(n_users, n_items, pairs[:, 0], pairs[:, 1])
        return data, f"real Baby sample ({BABY_SAMPLE.name})"
    return synthetic_data(19_445, 7_050, 160_792, seed=0), "synthetic Baby-sized"


def synthetic_data(n_users: int, n_items: int, n_inter: int, seed: int) -> InteractionData:
    """Unique pairs with long-tailed item popularity; 80 % kept as training edges."""
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.8
    popularity /= popularity.sum()
    keys: np.ndarray = np.empty(0, dtype=np.int64)
    while keys.size < n_inter:
        users = rng.integers(0, n_users, n_inter)
        items = rng.choice(n_items, n_inter, p=popularity)
        keys = np.unique(np.concatenate([keys, users * n_items + items]))
    keys = rng.permutation(keys)[: int(n_inter * 0.8)]
    return InteractionData(n_users, n_items, keys // n_items, keys % n_items)


def parse_features(spec: str, n_items: int, seed: int) -> dict[str, torch.Tensor]:
    """'image:1536+text:1536' -> random float32 matrices."""
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for part in spec.split("+"):
        name, dim = part.split(":")
        out[name] = torch.randn(n_items, int(dim), generator=gen)
    return out


# ---------------------------------------------------------------------------------------------
# A minimal MMRec-style loop (vlmrec.training is the real one; this one only needs to cost the same).
class Sampler:
    def __init__(self, data: InteractionData, seed: int, max_batches: int = 0) -> None:
        self.max_batches = max_batches  # > 0: stop after this many batches (a short, loaded-machine run)
        self.users, self.items = data.train_users, data.train_items
        self.n_items = data.n_items
        self.keys = np.sort(self.users * self.n_items + self.items)
        self.candidates = np.unique(self.items)
        self.rng = np.random.default_rng(seed)

    def n_batches(self) -> int:
        return -(-self.users.size // TRAIN_BATCH)

    def batches(self):
        order = self.rng.permutation(self.users.size)
        stop = order.size if self.max_batches <= 0 else min(order.size, self.max_batches * TRAIN_BATCH)
        for start in range(0, stop, TRAIN_BATCH):
            idx = order[start : start + TRAIN_BATCH]
            users, pos = self.users[idx], self.items[idx]
            neg = self.rng.choice(self.candidates, idx.size)
            bad = np.isin(users * self.n_items + neg, self.keys)
            while bad.any():
                neg[bad] = self.rng.choice(self.candidates, int(bad.sum()))
                bad = np.isin(users * self.n_items + neg, self.keys)
            yield users, pos, neg


def train_epoch(model, optimizer, sampler: Sampler, epoch: int, device: torch.device) -> float:
    if optimizer is None:  # nothing to train (ItemKNNCBF)
        return 0.0
    model.train()
    model.pre_epoch(epoch)
    total = 0.0
    for batch_index, (users, pos, neg) in enumerate(sampler.batches()):
        tensors = [torch.as_tensor(a, device=device) for a in (users, pos, neg)]
        loss = model.loss(*tensors, batch_index)
        optimizer.zero_grad(set_to_none=not model.zero_grads_as_tensors)  # as the trainer
        loss.backward()
        optimizer.step()
        total += float(loss)
    return total


@torch.no_grad()
def evaluate(model, data: InteractionData, device: torch.device) -> None:
    model.eval()
    model.prepare_eval()
    users_t = torch.as_tensor(data.train_users, device=device)
    items_t = torch.as_tensor(data.train_items, device=device)
    for start in range(0, data.n_users, EVAL_BATCH):
        users = torch.arange(start, min(start + EVAL_BATCH, data.n_users), device=device)
        scores = model.score_users(users)
        in_batch = (users_t >= start) & (users_t < start + users.numel())
        scores[users_t[in_batch] - start, items_t[in_batch]] = -1e10
        torch.topk(scores, TOPK, dim=-1)


def make_adam(model, kind: str) -> torch.optim.Adam | None:
    """'fused' (one kernel per step; CPU and CUDA in torch >= 2.4), 'foreach' or 'loop' (CPU default)."""
    if not model.requires_training:
        return None
    options = {"fused": {"fused": True}, "foreach": {"foreach": True}, "loop": {"foreach": False}}[kind]
    return torch.optim.Adam(model.parameters(), lr=1e-3, **options)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_one(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    data, source = load_data(args.data)
    uses_features = registry.get_model_class(args.model).uses_features
    features = parse_features(args.features, data.n_items, seed=1) if uses_features else None
    torch.manual_seed(999)
    # reg_weight > 0 switches FREEDOM's modality terms on (the expensive case); others use defaults.
    params = {"reg_weight": args.reg_weight} if args.model in ("freedom", "lattice") else {}
    t0 = time.perf_counter()
    model = registry.build(args.model, data, features, params, device)
    sync(device)
    build_s = time.perf_counter() - t0
    optimizer = make_adam(model, args.adam)
    sampler = Sampler(data, seed=999, max_batches=args.max_batches)
    # s/epoch from a few batches: their time scaled to the full epoch's batch count
    scale = 1.0 if args.max_batches <= 0 else sampler.n_batches() / min(args.max_batches, sampler.n_batches())
    epoch_s, eval_s, epoch_cpu, eval_cpu = [], [], [], []
    for epoch in range(args.epochs + 1):  # epoch 0 is a warm-up, not timed
        t0, c0 = time.perf_counter(), time.process_time()
        train_epoch(model, optimizer, sampler, epoch, device)
        sync(device)
        t1, c1 = time.perf_counter(), time.process_time()
        evaluate(model, data, device)
        sync(device)
        t2, c2 = time.perf_counter(), time.process_time()
        if epoch > 0:
            epoch_s.append((t1 - t0) * scale)
            eval_s.append(t2 - t1)
            epoch_cpu.append((c1 - c0) * scale)
            eval_cpu.append(c2 - c1)
    return {
        "model": args.model,
        "features": args.features,
        "data": source,
        "users": data.n_users,
        "items": data.n_items,
        "train_edges": int(data.train_users.size),
        "device": args.device,
        "threads": args.threads,
        "reg_weight": args.reg_weight,
        "adam": args.adam,
        "build_s": build_s,
        "epoch_s": float(np.median(epoch_s)),
        "eval_s": float(np.median(eval_s)),
        # CPU seconds of this process (all threads): a load-independent cost figure on a shared machine
        "epoch_cpu_s": float(np.median(epoch_cpu)),
        "eval_cpu_s": float(np.median(eval_cpu)),
        "peak_mb": peak_memory_mb(device),
    }


def run_big(args: argparse.Namespace) -> dict:
    """One model on a large catalogue: build (graphs), one training batch + backward, one eval batch."""
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    n_items = args.big_items
    data = synthetic_data(n_items * 3, n_items, n_items * 20, seed=2)
    model_class = registry.get_model_class(args.model)
    features = parse_features(args.features, n_items, seed=3) if model_class.uses_features else None
    torch.manual_seed(999)
    t0 = time.perf_counter()
    model = registry.build(args.model, data, features, {}, device)
    sync(device)
    t1 = time.perf_counter()
    if model.requires_training:
        model.pre_epoch(0)
        users = torch.as_tensor(data.train_users[:TRAIN_BATCH], device=device)
        items = torch.as_tensor(data.train_items[:TRAIN_BATCH], device=device)
        loss = model.loss(users, items, items.flip(0), 0)
        loss.backward()
    sync(device)
    t2 = time.perf_counter()
    model.eval()
    model.prepare_eval()
    model.score_users(torch.arange(min(EVAL_BATCH, data.n_users), device=device))
    sync(device)
    t3 = time.perf_counter()
    item_adj = getattr(model, "item_adj", None)
    return {
        "model": args.model,
        "items": n_items,
        "features": args.features,
        "device": args.device,
        "build_s": t1 - t0,
        "train_batch_s": t2 - t1,
        "eval_batch_s": t3 - t2,
        "item_adj_nnz": int(item_adj.nnz()) if item_adj is not None else None,
        "peak_mb": peak_memory_mb(device),
    }


# ---------------------------------------------------------------------------------------------
def child(args: argparse.Namespace, extra: list[str]) -> dict:
    cmd = [sys.executable, __file__, *extra, "--device", args.device, "--threads", str(args.threads)]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", choices=["auto", "baby-sample", "synthetic"], default="auto")
    parser.add_argument("--models", nargs="+", default=registry.available_models())
    parser.add_argument(
        "--feature-sets",
        nargs="+",
        default=["image:1536+text:1536", "fused:3072"],
        help="'+'-joined name:dim modalities (dual VLM2Vec = image:1536+text:1536; dual_concat = fused:3072)",
    )
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs (after one warm-up epoch)")
    parser.add_argument(
        "--max-batches", type=int, default=0, help="> 0: time this many batches per epoch, scaled to an epoch"
    )
    parser.add_argument(
        "--reg-weight", type=float, default=1e-4, help="FREEDOM: >0 computes the modality BPR"
    )
    parser.add_argument("--adam", choices=["fused", "foreach", "loop"], default="fused")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--big-items", type=int, default=63_000, help="large-catalogue check (0: skip)")
    parser.add_argument(
        "--big-models", nargs="+", default=registry.available_models(), help="models of the 63k check"
    )
    parser.add_argument("--big-features", default="image:256+text:256", help="raw dims for the 63k check")
    # internal: one configuration in this process
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--big", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--model", default="freedom", help=argparse.SUPPRESS)
    parser.add_argument("--features", default="image:1536+text:1536", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args)))
        return
    if args.big:
        print(json.dumps(run_big(args)))
        return

    print(f"device={args.device} threads={args.threads} torch={torch.__version__} adam={args.adam}")
    if args.max_batches > 0:
        print(f"(short run: s/epoch scaled from {args.max_batches} timed batch(es) per epoch)")
    print(
        f"{'model':8} {'features':22} {'epoch s':>8} {'eval s':>7} {'(cpu s)':>15} {'build s':>8} "
        f"{'peak MB':>8}  target"
    )
    for model in args.models:
        id_only = not registry.get_model_class(model).uses_features
        for spec in ["id:0"] if id_only else args.feature_sets:
            extra = ["--one", "--model", model, "--features", spec, "--data", args.data]
            extra += ["--epochs", str(args.epochs), "--reg-weight", str(args.reg_weight), "--adam", args.adam]
            extra += ["--max-batches", str(args.max_batches)]
            r = child(args, extra)
            ep_t, ev_t = TARGETS.get(model, (float("nan"), float("nan")))
            ok = "ok" if r["epoch_s"] <= ep_t and r["eval_s"] <= ev_t else "MISS"
            if model not in TARGETS:
                ok = "(no target)"
            print(
                f"{model:8} {spec:22} {r['epoch_s']:8.2f} {r['eval_s']:7.2f} "
                f"({r['epoch_cpu_s']:6.2f} {r['eval_cpu_s']:6.2f}) {r['build_s']:8.2f} "
                f"{r['peak_mb']:8.0f}  <= {ep_t}/{ev_t} s {ok}   [{r['data']}: {r['users']} users, "
                f"{r['items']} items, {r['train_edges']} train edges]",
                flush=True,
            )
    if args.big_items > 0:
        for model in args.big_models:
            extra = ["--big", "--big-items", str(args.big_items), "--features", args.big_features]
            r = child(args, [*extra, "--model", model])
            dense_gb = 4 * args.big_items**2 / 1e9  # one float32 n_items² matrix, which MMRec builds
            print(
                f"{model:10} on {r['items']} items ({r['features']}): build {r['build_s']:.1f} s, "
                f"one train batch + backward {r['train_batch_s']:.1f} s, prepare_eval + one eval batch "
                f"{r['eval_batch_s']:.1f} s, peak {r['peak_mb']:.0f} MB (one dense n_items² float32 "
                f"matrix: {dense_gb:.1f} GB)",
                flush=True,
            )


if __name__ == "__main__":
    main()
