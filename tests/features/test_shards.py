"""The sharded runner: resume after a crash, ordering, caching, worker processes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from feature_fakes import FakeEncoder, FakeFactory, fake_vector

from vlmrec.features.base import EncoderInput
from vlmrec.features.registry import build_feature_set, load_feature_set, strategy_params
from vlmrec.features.shards import EncodeJob, encode_resumable, shard_path


class Preempted(Exception):
    pass


class CrashingEncoder(FakeEncoder):
    def encode_batch(self, batch):
        if self.crash_after_batches is not None and self.batches >= self.crash_after_batches:
            raise Preempted("simulated kill")
        return super().encode_batch(batch)


def _job(
    tmp_path: Path, n: int = 23, shard_size: int = 5, batch_size: int = 2, workers: int = 0
) -> EncodeJob:
    texts = [" ".join(["w"] * (i % 7 + 1)) + f" item{i}" for i in range(n)]
    return EncodeJob(
        texts=texts,
        image_paths=[None] * n,
        cache_dir=tmp_path / "cache",
        shard_size=shard_size,
        batch_size=batch_size,
        num_workers=workers,
    )


def test_resume_encodes_only_missing_shards(tmp_path: Path) -> None:
    job = _job(tmp_path)  # 23 items -> 5 shards (5, 5, 5, 5, 3)
    # Batches of 2 within shards of 5: 3 batches per full shard; crash in the 8th batch.
    crashing = CrashingEncoder(crash_after_batches=7)
    with pytest.raises(Preempted):
        encode_resumable(job, lambda: crashing)
    finished = sorted(p.name for p in job.cache_dir.glob("shard-*.npz"))
    assert finished == ["shard-00000.npz", "shard-00001.npz"]  # batches 1-6 completed shards 0 and 1
    assert not list(job.cache_dir.glob(".shard*"))  # no half-written temp files left

    rerun = FakeEncoder()
    result = encode_resumable(job, lambda: rerun)
    assert result.shards_encoded == 3 and result.items_encoded == 13
    assert len(rerun.seen) == 13
    reference = encode_resumable(_job(tmp_path / "clean"), FakeEncoder).vectors
    np.testing.assert_array_equal(result.vectors, reference)
    expected = np.stack([fake_vector(EncoderInput(text=t)) for t in job.texts])
    np.testing.assert_array_equal(result.vectors, expected)  # row j = input j


def test_fully_cached_job_never_loads_the_model(tmp_path: Path) -> None:
    job = _job(tmp_path)
    first = encode_resumable(job, FakeEncoder)

    def fail() -> FakeEncoder:
        raise AssertionError("the encoder must not be built when every shard is cached")

    again = encode_resumable(job, fail)
    assert again.shards_encoded == 0
    np.testing.assert_array_equal(first.vectors, again.vectors)


def test_corrupt_shard_is_reencoded(tmp_path: Path) -> None:
    job = _job(tmp_path)
    first = encode_resumable(job, FakeEncoder)
    shard_path(job.cache_dir, 2).write_bytes(b"garbage")
    encoder = FakeEncoder()
    again = encode_resumable(job, lambda: encoder)
    assert again.shards_encoded == 1 and len(encoder.seen) == 5
    np.testing.assert_array_equal(first.vectors, again.vectors)


def test_batches_sorted_longest_first(tmp_path: Path) -> None:
    job = _job(tmp_path, shard_size=100, batch_size=4)
    encoder = FakeEncoder()
    encode_resumable(job, lambda: encoder)
    lengths = [encoder.token_length(x) for x in encoder.seen]
    assert lengths == sorted(lengths, reverse=True)


def test_worker_processes_decode_images(items_path: Path, features_config: dict) -> None:
    """num_workers=2 (images decoded in DataLoader workers) gives the same vectors as in-process."""
    results = []
    for workers in (0, 2):
        features_config["vlm2vec"]["num_workers"] = workers
        out = items_path.parent / f"features-{workers}" / "visual"
        params = strategy_params("visual", features_config)
        build_feature_set("visual", items_path, out, params, encoder_factory=FakeFactory())
        results.append(load_feature_set(out)["image"])
    np.testing.assert_array_equal(results[0], results[1])


def test_strategy_resumes_after_crash(items_path: Path, features_config: dict) -> None:
    """A killed extraction job keeps its shards outside the output folder; the rerun finishes it."""
    params = strategy_params("prompt2", features_config)  # shard_size 5, batch 2: 12 items = 3 shards
    out = items_path.parent / "features" / "prompt2"
    crashing = FakeFactory(crash_after_batches=4)
    with pytest.raises(KeyboardInterrupt):
        build_feature_set("prompt2", items_path, out, params, encoder_factory=crashing)
    assert not (out / "manifest.json").exists()
    assert len(list((out.parent / ".shards").rglob("shard-*.npz"))) == 1
    factory = FakeFactory()
    manifest = build_feature_set("prompt2", items_path, out, params, encoder_factory=factory)
    assert len(factory.seen("vlm2vec")) == 12 - 5
    assert manifest["shards"]["fused"] == {"total": 3, "encoded": 2, "items_encoded": 7}
