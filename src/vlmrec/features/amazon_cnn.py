"""Reader (and writer, for demos and tests) of the Amazon 2014 `image_features_<Category>.b` file.

Format (McAuley's readImageFeatures): a sequence of records, each a 10-byte ASCII asin followed by
4096 little-endian float32 values, no header. The real files are ~1 GB, so they are streamed in
chunks and only the wanted asins are kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vlmrec.utils.io import atomic_path

ASIN_BYTES = 10
DIM = 4096


def record_dtype(dim: int = DIM) -> np.dtype:
    return np.dtype([("asin", f"S{ASIN_BYTES}"), ("vector", "<f4", (dim,))])


def read_image_features(
    path: str | Path, asins: Sequence[str], *, dim: int = DIM, chunk_records: int = 4096
) -> tuple[np.ndarray, np.ndarray]:
    """Vectors for `asins` (rows in that order) and a mask of which were found in the file.

    Rows of asins absent from the file are zero; the caller fills them (mean). The first record
    of an asin wins when the file repeats it.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Amazon CNN image-feature file not found: {path}")
    dtype = record_dtype(dim)
    size = path.stat().st_size
    if size % dtype.itemsize:
        raise ValueError(
            f"{path}: {size} bytes is not a whole number of {dtype.itemsize}-byte records "
            f"(10-byte asin + {dim} float32); truncated download?"
        )
    wanted = {asin: row for row, asin in enumerate(asins)}
    out = np.zeros((len(asins), dim), dtype=np.float32)
    found = np.zeros(len(asins), dtype=bool)
    with open(path, "rb") as handle:
        while True:
            records = np.fromfile(handle, dtype=dtype, count=chunk_records)
            if records.size == 0:
                break
            for index, raw in enumerate(records["asin"]):
                row = wanted.get(raw.decode("ascii", errors="replace").strip())
                if row is not None and not found[row]:
                    out[row] = records["vector"][index]
                    found[row] = True
    if not np.isfinite(out[found]).all():
        raise ValueError(f"{path}: non-finite values in the image features")
    return out, found


def write_image_features(path: str | Path, asins: Sequence[str], vectors: np.ndarray) -> None:
    """Write records in the same format (used by the demo data and the tests)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.shape[0] != len(asins):
        raise ValueError("one vector per asin is required")
    records = np.zeros(len(asins), dtype=record_dtype(vectors.shape[1]))
    for asin in asins:
        if len(asin.encode("ascii")) > ASIN_BYTES:
            raise ValueError(f"asin {asin!r} is longer than {ASIN_BYTES} bytes")
    records["asin"] = [a.encode("ascii") for a in asins]
    records["vector"] = vectors
    with atomic_path(path, suffix=".b") as tmp:
        records.tofile(tmp)
