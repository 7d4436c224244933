"""The sharded, resumable encoding runner every encoded strategy goes through.

Why shards: a 2B–7B model over ~25,000 products takes long enough that a preempted cluster job
must lose minutes, not hours. Inputs are ordered once (longest first, so padding waste is small and
an out-of-memory batch shows up at once), the order is saved, and every `shard_size` items are
written atomically to `<cache_dir>/shard-NNNNN.npz`. A rerun loads finished shards and encodes
only the missing ones. `cache_dir` is keyed by content (items digest, model, prompt, ...) and lives
outside Snakemake's output paths, because Snakemake deletes the outputs of a failed job.

Images are decoded (and resized when asked) by DataLoader worker processes, so the accelerator
is not kept waiting on JPEG decoding.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from vlmrec.features.base import Encoder, EncoderInput
from vlmrec.utils.io import atomic_path, read_json, write_json

log = logging.getLogger(__name__)

ORDER_FILE = "order.npy"
META_FILE = "meta.json"
ENCODER_FILE = "encoder.json"  # the encoder's describe(), so a fully cached rerun still reports it


@dataclass(frozen=True)
class EncodeJob:
    """Inputs of one encoder pass: position j is (texts[j], image_paths[j])."""

    texts: Sequence[str | None]
    image_paths: Sequence[str | None]
    cache_dir: Path
    shard_size: int
    batch_size: int
    num_workers: int = 0
    image_size: int | None = None  # resize images to image_size x image_size in the workers
    desc: str = "encode"

    def __post_init__(self) -> None:
        if len(self.texts) != len(self.image_paths):
            raise ValueError("texts and image_paths must have the same length")
        if self.shard_size < 1 or self.batch_size < 1:
            raise ValueError("shard_size and batch_size must be >= 1")

    @property
    def n(self) -> int:
        return len(self.texts)


@dataclass
class EncodeResult:
    vectors: np.ndarray  # [job.n, dim], position order
    shards_total: int
    shards_encoded: int
    items_encoded: int
    device: str | None = None
    encoder_info: dict[str, Any] = field(default_factory=dict)  # encoder.describe() when it has one


def load_image(path: str, image_size: int | None = None) -> Image.Image:
    """Decode an image as RGB (and resize it); errors name the file."""
    try:
        with Image.open(path) as handle:
            image = handle.convert("RGB")
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot decode image {path}: {exc}") from exc
    if image_size is not None and image.size != (image_size, image_size):
        image = image.resize((image_size, image_size), Image.Resampling.BICUBIC)
    return image


class _InputDataset:
    """Map-style dataset: position -> (position, EncoderInput); runs in DataLoader workers."""

    def __init__(self, texts: Sequence[str | None], paths: Sequence[str | None], image_size: int | None):
        self.texts = list(texts)
        self.paths = list(paths)
        self.image_size = image_size

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, position: int) -> tuple[int, EncoderInput]:
        path = self.paths[position]
        image = load_image(path, self.image_size) if path is not None else None
        return position, EncoderInput(text=self.texts[position], image=image)


def _collate(batch: list[tuple[int, EncoderInput]]) -> tuple[list[int], list[EncoderInput]]:
    return [p for p, _ in batch], [x for _, x in batch]


def input_lengths(
    texts: Sequence[str | None], has_image: Sequence[bool], encoder: Encoder | None, image_size: int | None
) -> np.ndarray:
    """Sequence lengths via the encoder's `token_length(EncoderInput)` helper when it has one
    (VLM2Vec: prompt tokens + expanded image tokens), else characters.

    Images are not decoded for this: a blank stand-in of the configured size is passed, which
    gives the exact image-token count whenever the encoder resizes to a fixed size.
    """
    measure = getattr(encoder, "token_length", None)
    if measure is None:
        return np.array([len(t) if t else 0 for t in texts], dtype=np.int64)
    side = image_size or 224
    stand_in = Image.new("RGB", (side, side))
    return np.array(
        [measure(EncoderInput(text=t, image=stand_in if img else None)) for t, img in zip(texts, has_image)],
        dtype=np.int64,
    )


def plan_order(lengths: np.ndarray) -> np.ndarray:
    """Positions sorted longest first; ties keep position order (deterministic)."""
    return np.argsort(-lengths, kind="stable").astype(np.int64)


def shard_path(cache_dir: Path, index: int) -> Path:
    return cache_dir / f"shard-{index:05d}.npz"


def _load_shard(path: Path, expected: np.ndarray) -> np.ndarray | None:
    """A finished shard's vectors, or None when the file is unreadable or not this shard's."""
    try:
        with np.load(path) as data:
            positions, vectors = data["positions"], data["vectors"]
    except (OSError, ValueError, KeyError) as exc:
        log.warning("ignoring unreadable shard %s (%s); it will be re-encoded", path, exc)
        return None
    if not np.array_equal(positions, expected) or vectors.shape[0] != len(expected):
        log.warning("ignoring shard %s: it holds other positions; it will be re-encoded", path)
        return None
    return vectors


def _save_shard(path: Path, positions: np.ndarray, vectors: np.ndarray) -> None:
    with atomic_path(path, suffix=".npz") as tmp, open(tmp, "wb") as handle:
        np.savez(handle, positions=positions, vectors=vectors)


def _check_batch(vectors: np.ndarray, n: int, dim: int | None, desc: str) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] != n or (dim is not None and vectors.shape[1] != dim):
        raise RuntimeError(f"{desc}: encoder returned shape {vectors.shape} for a batch of {n}")
    if not np.isfinite(vectors).all():
        raise RuntimeError(f"{desc}: encoder returned non-finite values")
    return vectors


def _prepare_cache(job: EncodeJob, encoder_getter: Callable[[], Encoder]) -> np.ndarray:
    """Load or create the cache directory's order and metadata; returns the order."""
    job.cache_dir.mkdir(parents=True, exist_ok=True)
    meta = {"n": job.n, "shard_size": job.shard_size}
    meta_path = job.cache_dir / META_FILE
    order_path = job.cache_dir / ORDER_FILE
    if meta_path.exists() and order_path.exists():
        found = read_json(meta_path)
        if found != meta:
            raise RuntimeError(
                f"shard cache {job.cache_dir} was written for {found}, this job is {meta}; delete the folder"
            )
        order = np.load(order_path)
        if sorted(order.tolist()) != list(range(job.n)):
            raise RuntimeError(f"shard cache {job.cache_dir}: {ORDER_FILE} is corrupt; delete the folder")
        return order
    has_image = [p is not None for p in job.image_paths]
    order = plan_order(input_lengths(job.texts, has_image, encoder_getter(), job.image_size))
    with atomic_path(order_path, suffix=".npy") as tmp:
        np.save(tmp, order)
    write_json(meta_path, meta)
    return order


def encode_resumable(job: EncodeJob, make_encoder: Callable[[], Encoder]) -> EncodeResult:
    """Encode `job` shard by shard into `job.cache_dir`, resuming from finished shards.

    `make_encoder` is called at most once, and only when something is left to encode (a fully
    cached job never loads the model).
    """
    from torch.utils.data import DataLoader

    encoder: Encoder | None = None

    def get_encoder() -> Encoder:
        nonlocal encoder
        if encoder is None:
            encoder = make_encoder()
        return encoder

    if job.n == 0:
        raise ValueError(f"{job.desc}: nothing to encode (no items, or no item has an image)")
    order = _prepare_cache(job, get_encoder)
    shards = [order[start : start + job.shard_size] for start in range(0, job.n, job.shard_size)]
    done: dict[int, np.ndarray] = {}
    for index, positions in enumerate(shards):
        path = shard_path(job.cache_dir, index)
        if path.exists() and (vectors := _load_shard(path, positions)) is not None:
            done[index] = vectors
    todo = [i for i in range(len(shards)) if i not in done]
    log.info(
        "%s: %d items, %d shards of %d (%d cached, %d to encode) in %s",
        job.desc, job.n, len(shards), job.shard_size, len(done), len(todo), job.cache_dir,
    )  # fmt: skip
    items_encoded = 0
    if todo:
        enc = get_encoder()
        dim = next(iter(done.values())).shape[1] if done else None
        batches = list(_batches(shards, todo, job.batch_size))
        loader = DataLoader(
            _InputDataset(job.texts, job.image_paths, job.image_size),
            batch_sampler=[positions for _, positions in batches],
            num_workers=job.num_workers,
            collate_fn=_collate,
        )
        pending: dict[int, list[np.ndarray]] = {i: [] for i in todo}
        remaining = {i: len(shards[i]) for i in todo}
        started = time.perf_counter()
        with tqdm(total=sum(remaining.values()), desc=job.desc, unit="item", mininterval=2.0) as bar:
            for (index, _), (_positions, inputs) in zip(batches, loader, strict=True):
                vectors = _check_batch(enc.encode_batch(inputs), len(inputs), dim, job.desc)
                dim = vectors.shape[1]
                pending[index].append(vectors)
                remaining[index] -= len(inputs)
                items_encoded += len(inputs)
                bar.update(len(inputs))
                if remaining[index] == 0:
                    done[index] = np.concatenate(pending.pop(index))
                    _save_shard(shard_path(job.cache_dir, index), shards[index], done[index])
                    rate = items_encoded / max(time.perf_counter() - started, 1e-9)
                    log.info("%s: shard %d/%d written (%.1f items/s)", job.desc, index + 1, len(shards), rate)
    dims = {v.shape[1] for v in done.values()}
    if len(dims) != 1:
        raise RuntimeError(f"shard cache {job.cache_dir} mixes dimensions {sorted(dims)}; delete the folder")
    result = np.empty((job.n, dims.pop()), dtype=np.float32)
    for index, positions in enumerate(shards):
        result[positions] = done[index]
    info_path = job.cache_dir / ENCODER_FILE
    if encoder is not None:
        info = _describe(encoder)
        write_json(info_path, info)
    else:
        info = read_json(info_path) if info_path.exists() else {}
    return EncodeResult(
        vectors=result,
        shards_total=len(shards),
        shards_encoded=len(todo),
        items_encoded=items_encoded,
        device=str(getattr(encoder, "device", None)) if encoder is not None else None,
        encoder_info=info,
    )


def _describe(encoder: Encoder | None) -> dict[str, Any]:
    describe = getattr(encoder, "describe", None)
    if describe is None:
        return {}
    info = dict(describe())
    info.pop("library_versions", None)  # the manifest records them once
    return info


def _batches(shards: list[np.ndarray], todo: list[int], batch_size: int) -> Iterator[tuple[int, list[int]]]:
    """(shard index, positions) batches that never cross a shard boundary."""
    for index in todo:
        positions = shards[index].tolist()
        for start in range(0, len(positions), batch_size):
            yield index, positions[start : start + batch_size]
