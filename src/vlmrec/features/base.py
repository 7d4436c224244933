"""The encoder interface every feature extractor implements.

A strategy (see `registry.py`) turns the items table into encoder inputs and runs an `Encoder`
through the sharded, resumable runner (`shards.py`). Encoders only see batches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class EncoderInput:
    """One item as an encoder sees it: a prompt/text and optionally an RGB image."""

    text: str | None
    image: Image.Image | None = None


class Encoder(Protocol):
    """Maps a batch of inputs to float32 vectors [len(batch), dim]."""

    dim: int
    name: str

    def encode_batch(self, batch: list[EncoderInput]) -> np.ndarray: ...
