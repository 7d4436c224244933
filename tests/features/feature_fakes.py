"""Fake encoders and item tables shared by the feature tests (a module with a unique name:
several test folders have a conftest.py, so `from conftest import` would be ambiguous)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from vlmrec.features.base import EncoderInput

N_ITEMS = 12
MISSING = (3, 7)  # items without an image


class FakeEncoder:
    """Deterministic stand-in: a vector from the text's hash plus the image's mean colour.

    It records every input it sees, and can be told to crash after a number of batches
    (a simulated preemption).
    """

    def __init__(self, dim: int = 8, crash_after_batches: int | None = None, name: str = "fake") -> None:
        self.dim = dim
        self.name = name
        self.device = "cpu"
        self.crash_after_batches = crash_after_batches
        self.seen: list[EncoderInput] = []
        self.batches = 0

    def token_length(self, item: EncoderInput) -> int:
        return len((item.text or "").split()) + (4 if item.image is not None else 0)

    def encode_batch(self, batch: list[EncoderInput]) -> np.ndarray:
        if self.crash_after_batches is not None and self.batches >= self.crash_after_batches:
            raise KeyboardInterrupt("simulated preemption")
        self.batches += 1
        self.seen.extend(batch)
        return np.stack([fake_vector(x, self.dim) for x in batch])


def fake_vector(x: EncoderInput, dim: int = 8) -> np.ndarray:
    seed = int(hashlib.sha256((x.text or "").encode()).hexdigest()[:8], 16)
    vector = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    if x.image is not None:
        vector[0] += float(np.asarray(x.image, dtype=np.float32).mean()) / 255.0
        vector[1] += x.image.size[0] / 100.0
    return vector


class FakeFactory:
    """encoder_factory(kind, settings) -> FakeEncoder; remembers what it built."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.built: list[tuple[str, dict[str, Any], FakeEncoder]] = []

    def __call__(self, kind: str, settings: Mapping[str, Any]) -> FakeEncoder:
        dims = {"vlm2vec": 8, "resnet": 6, "text": 4, "mmrec_text": 5, "hf_image": 6, "hf_text": 4}
        dims |= {"clip": 8, "siglip": 8, "blip": 8, "sentence_transformers": 5}
        encoder = FakeEncoder(dim=dims[kind], **self.kwargs)
        self.built.append((kind, dict(settings), encoder))
        return encoder

    def seen(self, kind: str) -> list[EncoderInput]:
        return [x for k, _, e in self.built if k == kind for x in e.seen]


def make_items(root: Path, n_items: int = N_ITEMS, missing: tuple[int, ...] = MISSING) -> Path:
    """results/<ds>/items.parquet + images/ under `root`; returns the items path."""
    images = root / "images"
    images.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n_items):
        path = None
        if i not in missing:
            path = images / f"{i}.png"
            colour = (20 * i % 256, 255 - 10 * i, 7 * i % 256)
            Image.new("RGB", (30 + 3 * i, 40), colour).save(path)
        title = f"Item {i} " + "word " * (i % 5) + ("{braces}" if i == 5 else "")
        category = "Baby" if i % 2 else "Toys"
        rows.append(
            {
                "item_id": i,
                "asin": f"B{i:09d}",
                "title": title.strip(),
                "category": category,
                "text": f"{title.strip()}, category: {category}",
                "brand": f"brand{i % 3}",
                "description": f"desc {i}",
                "category_path": f"Baby {category}",
                "image_path": None if path is None else str(path),
                "image_status": "missing_url" if path is None else "ok",
            }
        )
    items_path = root / "items.parquet"
    frame = pd.DataFrame(rows)
    # The data stage writes pandas "string" columns: missing values read back as pd.NA.
    strings = [c for c in frame.columns if c != "item_id"]
    frame[strings] = frame[strings].astype("string")
    frame.to_parquet(items_path, index=False)
    return items_path
