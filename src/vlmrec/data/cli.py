"""`python -m vlmrec demo-data|download|download-images|filter|build-dataset ...`.

The same library functions the Snakemake rules of workflow/rules/data.smk call.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vlmrec.config import schema_default, schema_entry
from vlmrec.layout import mmrec_inter_file
from vlmrec.utils.logs import setup_logging

# Flags named after config keys take their defaults from config/schema.yaml (written once there).
DOWNLOAD_KEYS = ("retries", "backoff_seconds", "timeout_seconds", "chunk_bytes")
BUILD_KEYS = {  # BuildOptions field -> (config section, key)
    "k_core": ("preprocess", "k_core"),
    "text_template": ("preprocess", "text_template"),
    "category_level": ("preprocess", "category_level"),
    "split_method": ("split", "method"),
    "split_seed": ("split", "seed"),
    "missing_policy": ("images", "missing_policy"),
}


def _flag(parser: argparse.ArgumentParser | argparse._ArgumentGroup, dest: str, *keys: str, **kw) -> None:  # noqa: ANN003
    """--<dest> with the schema's default of config key `keys` and its type."""
    entry, default = schema_entry(*keys), schema_default(*keys)
    kind = float if entry.get("type") == "number" else type(default)
    flag = f"--{dest.replace('_', '-')}"
    parser.add_argument(flag, dest=dest, type=kind, default=default, choices=entry.get("enum"), **kw)


def _download_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("download (config `download:`)")
    for key in DOWNLOAD_KEYS:
        _flag(group, key, "download", key)


def _to_download_options(args: argparse.Namespace):  # noqa: ANN202
    from vlmrec.data.download import DownloadOptions

    return DownloadOptions.from_mapping({key: getattr(args, key) for key in DOWNLOAD_KEYS})


def _log(args: argparse.Namespace) -> None:
    setup_logging(getattr(args, "log", None))


def _demo(args: argparse.Namespace) -> int:
    from vlmrec.data.demo import generate_demo

    _log(args)
    generate_demo(args.out_dir, args.category, args.n_users, args.n_items, args.seed)
    return 0


def _download(args: argparse.Namespace) -> int:
    from vlmrec.data.download import download_file

    _log(args)
    download_file(args.url, args.dest, _to_download_options(args))
    return 0


def _filter(args: argparse.Namespace) -> int:
    from vlmrec.data.build import filter_interactions

    _log(args)
    filter_interactions(
        args.ratings,
        args.meta,
        args.source,
        args.k_core,
        args.out_interactions,
        args.out_items_meta,
        args.max_bad_meta_fraction,
    )
    return 0


def _images(args: argparse.Namespace) -> int:
    from vlmrec.data.images import ImageOptions, download_images

    _log(args)
    download_images(
        args.items_meta,
        args.manifest,
        ImageOptions(args.workers, args.per_host_concurrency, args.max_pixels),
        _to_download_options(args),
        args.max_missing_fraction,
    )
    return 0


def _build(args: argparse.Namespace) -> int:
    from vlmrec.data.build import BuildOptions, DatasetOutputs, build_dataset, build_mmrec_dataset

    _log(args)
    expected = {
        key: value
        for key, value in (
            ("users", args.expected_users),
            ("items", args.expected_items),
            ("interactions", args.expected_interactions),
        )
        if value is not None
    }
    options = BuildOptions(
        **{field: getattr(args, field) for field in BUILD_KEYS}, source=args.source, expected_stats=expected
    )
    outputs = DatasetOutputs.in_dir(args.out_dir)
    name = args.dataset or Path(args.out_dir).name
    if args.source == "mmrec":
        if not args.path:
            raise ValueError("--path (config `datasets.<name>.path`) is required for the mmrec source")
        inter_file = mmrec_inter_file(name, {"inter_file": args.inter_file})
        build_mmrec_dataset(args.path, inter_file, outputs, options, name)
    else:
        if not args.interim or not args.items_meta:
            raise ValueError("--interim and --items-meta (outputs of `filter`) are required")
        build_dataset(args.interim, args.items_meta, args.manifest, outputs, options, name)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the data stage's sub-commands to `python -m vlmrec`."""
    p = subparsers.add_parser("demo-data", help="write a synthetic dataset in the Amazon 2014 raw format")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--category", default="Baby")
    p.add_argument("--n-users", type=int, default=1500)
    p.add_argument("--n-items", type=int, default=300)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--log")
    p.set_defaults(func=_demo)

    p = subparsers.add_parser("download", help="resumable, retried download of one URL (http(s):// or file:)")
    p.add_argument("url")
    p.add_argument("dest")
    _download_options(p)
    p.add_argument("--log")
    p.set_defaults(func=_download)

    p = subparsers.add_parser("filter", help="clean the ratings, iterative k-core, candidate items' meta")
    p.add_argument("--ratings", required=True)
    p.add_argument("--meta", required=True)
    p.add_argument("--source", choices=["amazon2014", "amazon2018"], default="amazon2014")
    _flag(p, "k_core", "preprocess", "k_core")
    p.add_argument("--out-interactions", required=True, help="interim k-core rows (parquet)")
    p.add_argument("--out-items-meta", required=True, help="candidate items' meta (parquet)")
    _flag(p, "max_bad_meta_fraction", "preprocess", "max_bad_meta_fraction")
    p.add_argument("--log")
    p.set_defaults(func=_filter)

    p = subparsers.add_parser("download-images", help="fetch, verify and normalise product images")
    p.add_argument("--items-meta", required=True, help="output of `filter` (asin, image_url)")
    p.add_argument("--manifest", required=True, help="manifest.parquet; images go next to it")
    for key in ("workers", "per_host_concurrency", "max_pixels", "max_missing_fraction"):
        _flag(p, key, "images", key)
    _download_options(p)
    p.add_argument("--log")
    p.set_defaults(func=_images)

    p = subparsers.add_parser("build-dataset", help="split, re-index, item text, stats (the data contract)")
    p.add_argument("--source", choices=["amazon2014", "amazon2018", "mmrec"], default="amazon2014")
    p.add_argument("--out-dir", required=True, help="results/<dataset>")
    p.add_argument("--dataset", help="name for messages (default: the out-dir's name)")
    p.add_argument("--interim", help="k-core rows from `filter`")
    p.add_argument("--items-meta", help="candidate items' meta from `filter`")
    p.add_argument("--manifest", help="image manifest from `download-images` (optional)")
    p.add_argument("--path", help="mmrec source: folder with <name>.inter")
    p.add_argument("--inter-file", help="mmrec source: file name (default <dataset>.inter)")
    for field, keys in BUILD_KEYS.items():
        _flag(p, field, *keys)
    p.add_argument("--expected-users", type=int)
    p.add_argument("--expected-items", type=int)
    p.add_argument("--expected-interactions", type=int)
    p.add_argument("--log")
    p.set_defaults(func=_build)
