"""The full-scale rehearsal of the real run (a benchmark, not a test): `make rehearsal [SCALE=0.1]`.

1. Writes Baby-sized raw data in the real Amazon 2014 formats with the demo's generator
   (vlmrec.data.demo; at SCALE=1 about 19,300 users / 7,000 items / 164,000 interactions after
   5-core, an image per item, titles and categories from item topics);
2. serves it on 127.0.0.1 by a host that misbehaves like the real ones (server.py: slow responses,
   429 with Retry-After, bursts of 5xx, dead image links, a redirect, a connection cut mid-file);
3. runs the whole DAG through `profiles/workstation` with the tiny encoders (built by the rule
   build_tiny_models), `grid_jobs: separate` and a few epochs per grid point;
4. writes `<out>/work/results/run_plan.md` (vlmrec.report.run_plan): jobs per stage, wall time and
   peak memory per rule from the `benchmark:` files, disk per stage, and the estimate of the real
   run's cost for Baby and Sports.

    .venv/bin/python benchmarks/rehearsal/run.py --scale 0.1 --cores 2 --out build/rehearsal
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

from server import HostBehaviour, serve  # noqa: E402

from vlmrec.data.demo import generate_demo  # noqa: E402
from vlmrec.report.run_plan import Assumptions, write_run_plan  # noqa: E402

DATASET = "rehearsal_baby"
# Generator sizes that give the paper's Baby after 5-core (19,445 / 7,050 / 160,792) at SCALE=1.
FULL_USERS, FULL_ITEMS, BASKET_P = 20500, 7800, 0.36


def rehearsal_config(base_url: str, scale: float, epochs: int, models: list[str] | None = None) -> dict:
    """config/demo.yaml (tiny encoders) with one Baby-sized dataset on the local host, the paper's
    strategies, one grid point per job, a few epochs and `models` (default: the demo's)."""
    config = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    paper = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    dataset = {
        "source": "amazon2014",
        "category": "Baby",
        "ratings_url": f"{base_url}/ratings_Baby.csv",
        "meta_url": f"{base_url}/meta_Baby.json.gz",
        "image_features_url": f"{base_url}/image_features_Baby.b",
    }
    if scale == 1.0:
        dataset["expected_stats"] = paper["datasets"]["baby"]["expected_stats"]
    config["datasets"] = {DATASET: dataset}
    config["split"]["cold_items"] = 0.0  # the demo's cold-start protocol names its own datasets
    config["download"] = {"retries": 6, "backoff_seconds": 0.5, "timeout_seconds": 30, "chunk_bytes": 1 << 20}
    config["features"]["strategies"] = list(paper["features"]["strategies"])
    config["training"].update(grid_jobs="separate", epochs=epochs, patience=1000, seeds=[999], device="cpu")
    if models:
        unknown = sorted(set(models) - set(config["models"]))
        if unknown:
            raise SystemExit(
                f"--models: {unknown} not in config/demo.yaml's models {sorted(config['models'])}"
            )
        config["models"] = {name: config["models"][name] for name in models}
    for entry in config["models"].values():
        entry.pop("strategies", None)  # every model on every strategy, as in the paper's run
    config["report"].pop("paper_table", None)
    return config


def snakemake(workdir: Path, configfile: Path, cores: str) -> subprocess.CompletedProcess[str]:
    command = [
        str(Path(sys.executable).with_name("snakemake")),
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(workdir),
        "--profile",
        str(REPO / "profiles" / "workstation"),
        "--configfile",
        str(configfile),
        "--cores",
        cores,
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    print("+", " ".join(command), flush=True)
    return subprocess.run(command, cwd=REPO, env=env, text=True, capture_output=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", type=float, default=1.0, help="fraction of Baby's users and items (1 = full)")
    p.add_argument("--epochs", type=int, default=2, help="epochs per grid point")
    p.add_argument("--cores", default="all")
    p.add_argument("--out", type=Path, default=REPO / "build" / "rehearsal")
    p.add_argument("--delay", type=float, default=0.2, help="seconds before each file response (images: /10)")
    p.add_argument(
        "--models",
        nargs="+",
        default=["freedom", "lattice", "lightgcn"],
        help="models to train (default: the paper's; the estimate covers every model of config.yaml)",
    )
    p.add_argument("--extract-rates", type=Path, help="JSON {encoder: items/s} measured on the GPU")
    p.add_argument(
        "--plan-only",
        action="store_true",
        help="only (re)write run_plan.md from an existing <out>/work (e.g. of an interrupted run)",
    )
    args = p.parse_args(argv)
    out = args.out.resolve()
    if args.plan_only:
        return write_plan(
            out, {"scale": f"{args.scale:g} of Amazon Baby (plan from an existing run)"}, args.extract_rates
        )
    if (out / "work").exists():
        raise SystemExit(f"{out / 'work'} exists: remove it (a rehearsal always starts fresh)")
    host_dir, workdir = out / "host", out / "work"
    n_users, n_items = max(60, round(FULL_USERS * args.scale)), max(40, round(FULL_ITEMS * args.scale))
    behaviour = HostBehaviour(delay_s=args.delay)
    host_dir.mkdir(parents=True, exist_ok=True)
    with serve(host_dir, behaviour) as (base, host):
        started = time.perf_counter()
        files = generate_demo(host_dir, "Baby", n_users, n_items, 2014, f"{base}/images", BASKET_P)
        files.images.rename(host_dir / "images")
        generated = time.perf_counter() - started
        configfile = out / "rehearsal.yaml"
        configfile.write_text(
            yaml.safe_dump(rehearsal_config(base, args.scale, args.epochs, args.models), sort_keys=False)
        )
        started = time.perf_counter()
        run = snakemake(workdir, configfile, args.cores)
        wall = time.perf_counter() - started
    (out / "snakemake.log").write_text(run.stdout + run.stderr)
    if run.returncode != 0:
        print(run.stderr[-4000:], file=sys.stderr)
        print(f"the workflow failed; full output in {out / 'snakemake.log'}", file=sys.stderr)
        return run.returncode
    stats = json.loads((workdir / "results" / DATASET / "stats.json").read_text())
    header = {
        "scale": f"{args.scale:g} of Amazon Baby (generator: {n_users:,} users x {n_items:,} items)",
        "dataset after 5-core": f"{stats['users']:,} users, {stats['items']:,} items, "
        f"{stats['interactions']:,} interactions, {stats['missing_images']} items without an image",
        "workflow wall time": f"{wall / 60:.1f} min through profiles/workstation with --cores {args.cores} "
        f"(data generation {generated:.0f} s, not included)",
        "machine": f"{os.cpu_count()} cores, shared (figures under load)",
        "host misbehaviour served": ", ".join(f"{k} x{v}" for k, v in sorted(host.counts.items())),
        "training": f"{', '.join(args.models)}; grid_jobs: separate, {args.epochs} epochs per grid point "
        "(config/demo.yaml's grids), 1 seed, CPU",
    }
    return write_plan(out, header, args.extract_rates)


def write_plan(out: Path, header: dict[str, str], extract_rates: Path | None = None) -> int:
    """run_plan.md of the rehearsal in `out`, from its benchmark files, folders and curves."""
    workdir = out / "work"
    results = workdir / "results"
    paper = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    assumptions = Assumptions()
    if extract_rates is not None:
        rates = {**assumptions.items_per_s, **json.loads(extract_rates.read_text())}
        assumptions = dataclasses.replace(assumptions, items_per_s=rates)
    stats_file = results / DATASET / "stats.json"
    stats = json.loads(stats_file.read_text()) if stats_file.is_file() else {}
    interactions = stats.get("interactions")
    if stats and "dataset after 5-core" not in header:
        header = {
            **header,
            "dataset after 5-core": f"{stats['users']:,} users, {stats['items']:,} items, "
            f"{stats['interactions']:,} interactions",
        }
    plan = results / "run_plan.md"
    write_run_plan(
        plan,
        results,
        [DATASET],
        paper,
        header,
        resources=workdir / "resources",
        assumptions=assumptions,
        run_interactions=interactions,
    )
    print(plan.read_text())
    print(f"written: {plan}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
