"""Product images: fetch, verify, normalise to RGB, record every outcome in a manifest.

A dead or corrupt image never fails the run; it becomes a row of `manifest.parquet`
(asin, url, status, bytes, error, path). Downloads run in a bounded thread pool with at most
`per_host_concurrency` requests per host at once (politeness towards rate-limited image hosts).
A re-run skips every asin whose image file already exists and decodes. Each image is decoded
with Pillow, refused when larger than `max_pixels` (decompression bombs), converted to RGB
(CMYK, palette, LA, 16-bit, ...) and stored as `<sanitised asin>.jpg`.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import threading
import urllib.parse
import warnings
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import requests
from PIL import Image

from vlmrec.data.download import DownloadOptions, HTTPStatusError, fetch_bytes
from vlmrec.utils.io import atomic_path, write_csv, write_parquet

log = logging.getLogger(__name__)

OK = "ok"
MISSING_URL = "missing_url"
HTTP_ERROR = "http_error"
NETWORK_ERROR = "network_error"
CORRUPT = "corrupt"
TOO_LARGE = "too_large"
MANIFEST_COLUMNS = ["asin", "url", "status", "bytes", "error", "path"]
MAX_IMAGE_BYTES = 50 * 1024 * 1024
_SAFE = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class ImageOptions:
    """The `images:` section of the config (the missing policy is applied by build)."""

    workers: int = 16
    per_host_concurrency: int = 4
    max_pixels: int = 89_478_485
    jpeg_quality: int = 95


def image_file_name(asin: str) -> str:
    """A file name for `asin` that is safe on every file system; asins that needed changes get a
    short hash suffix so two different asins never share a file."""
    safe = _SAFE.sub("_", asin)[:100]
    if safe != asin or not safe:
        safe = f"{safe}-{hashlib.sha1(asin.encode()).hexdigest()[:8]}"
    return f"{safe}.jpg"


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB; transparency is composited on white."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        peak = array.max() if array.size and array.max() > 255 else 255.0
        scaled = np.clip(array * (255.0 / peak), 0, 255).astype(np.uint8)
        return Image.fromarray(scaled).convert("RGB")
    if image.mode == "F":
        array = np.nan_to_num(np.asarray(image, dtype=np.float64))
        span = array.max() - array.min() or 1.0
        scaled = ((array - array.min()) * (255.0 / span)).astype(np.uint8)
        return Image.fromarray(scaled).convert("RGB")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def decode_image(data: bytes, max_pixels: int) -> Image.Image:
    """Decode and verify `data`; raises ValueError('too_large: ...') or ('corrupt: ...')."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(data))
            width, height = probe.size
            if width * height > max_pixels:
                raise ValueError(f"{TOO_LARGE}: {width}x{height} exceeds images.max_pixels={max_pixels}")
            probe.verify()  # structural check; the image must be reopened afterwards
            image = Image.open(io.BytesIO(data))
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ValueError(f"{TOO_LARGE}: {exc}") from exc
    except ValueError:
        raise
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types for broken files
        raise ValueError(f"{CORRUPT}: {type(exc).__name__}: {exc}") from exc
    return to_rgb(image)


def _is_valid_file(path: Path) -> bool:
    try:
        with Image.open(path) as image:
            image.verify()
        return True
    except Exception:  # noqa: BLE001 - any failure means "fetch it again"
        return False


class _HostGate:
    """One semaphore per host: at most `limit` concurrent requests to the same host."""

    def __init__(self, limit: int):
        self.limit = limit
        self.lock = threading.Lock()
        self.gates: dict[str, threading.BoundedSemaphore] = {}

    def __call__(self, url: str) -> threading.BoundedSemaphore:
        host = urllib.parse.urlparse(url).netloc or "local"
        with self.lock:
            if host not in self.gates:
                self.gates[host] = threading.BoundedSemaphore(self.limit)
            return self.gates[host]


def _fetch_one(
    asin: str,
    url: str | None,
    out_dir: Path,
    image_options: ImageOptions,
    download_options: DownloadOptions,
    gate: _HostGate,
    sessions: threading.local,
) -> dict[str, object]:
    row: dict[str, object] = {"asin": asin, "url": url, "status": OK, "bytes": 0, "error": None, "path": None}
    if not url:
        row.update(status=MISSING_URL, error="no image URL in the metadata")
        return row
    path = out_dir / image_file_name(asin)
    if path.exists() and _is_valid_file(path):
        row.update(bytes=path.stat().st_size, path=path.name)  # fetched by an earlier run
        return row
    if not hasattr(sessions, "session"):
        sessions.session = requests.Session()
    try:
        with gate(url):
            data = fetch_bytes(url, download_options, sessions.session, max_bytes=MAX_IMAGE_BYTES)
    except HTTPStatusError as exc:
        row.update(status=HTTP_ERROR, error=f"HTTP {exc.status}")
        return row
    except (FileNotFoundError, RuntimeError, ValueError, requests.RequestException) as exc:
        row.update(status=NETWORK_ERROR, error=str(exc)[:500])
        return row
    row["bytes"] = len(data)
    try:
        image = decode_image(data, image_options.max_pixels)
    except ValueError as exc:
        status, _, message = str(exc).partition(": ")
        row.update(status=status if status in (TOO_LARGE, CORRUPT) else CORRUPT, error=message[:500])
        return row
    with atomic_path(path) as tmp:
        image.save(tmp, format="JPEG", quality=image_options.jpeg_quality)
    row["path"] = path.name
    return row


def fetch_images(
    items: Iterable[tuple[str, str | None]],
    out_dir: str | Path,
    image_options: ImageOptions | None = None,
    download_options: DownloadOptions | None = None,
) -> pd.DataFrame:
    """Fetch every (asin, url); return the manifest (one row per asin, input order)."""
    image_options = image_options or ImageOptions()
    download_options = download_options or DownloadOptions()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    items = list(items)
    gate = _HostGate(image_options.per_host_concurrency)
    sessions = threading.local()
    rows: list[dict[str, object] | None] = [None] * len(items)
    step = max(1, len(items) // 10)
    with ThreadPoolExecutor(max_workers=image_options.workers) as pool:
        futures = {
            pool.submit(_fetch_one, asin, url, out_dir, image_options, download_options, gate, sessions): i
            for i, (asin, url) in enumerate(items)
        }
        for done, future in enumerate(as_completed(futures), start=1):
            rows[futures[future]] = future.result()
            if done % step == 0 or done == len(items):
                log.info("images: %d/%d done", done, len(items))
    manifest = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
    manifest["bytes"] = manifest["bytes"].astype("int64")
    for column in ("asin", "url", "status", "error", "path"):
        manifest[column] = manifest[column].astype("str")
    counts = manifest["status"].value_counts().to_dict()
    log.info("images: status counts %s", counts)
    return manifest


def missing_fraction(manifest: pd.DataFrame) -> float:
    return float((manifest["status"] != OK).mean()) if len(manifest) else 0.0


def check_missing(manifest: pd.DataFrame, max_missing_fraction: float, where: str) -> None:
    """Fail with a clear message when too many images are missing (network down, dead host)."""
    fraction = missing_fraction(manifest)
    if fraction > max_missing_fraction:
        counts = manifest.loc[manifest["status"] != OK, "status"].value_counts().to_dict()
        raise RuntimeError(
            f"{where}: {fraction:.1%} of {len(manifest)} images are missing ({counts}), more than "
            f"images.max_missing_fraction={max_missing_fraction}. Images fetched so far are kept; "
            "fix the cause (network, image host) and re-run, or raise the threshold."
        )


def download_images(
    items_meta_path: str | Path,
    manifest_path: str | Path,
    image_options: ImageOptions,
    download_options: DownloadOptions,
    max_missing_fraction: float,
) -> pd.DataFrame:
    """Fetch the images of the candidate items in `items_meta.parquet` (asin, image_url) into the
    manifest's folder and write the manifest; fail above `max_missing_fraction`."""
    meta = pd.read_parquet(items_meta_path, columns=["asin", "image_url"])
    pairs = [
        (str(asin), None if pd.isna(url) or not url else str(url))
        for asin, url in zip(meta["asin"], meta["image_url"])
    ]
    manifest_path = Path(manifest_path)
    manifest = fetch_images(pairs, manifest_path.parent, image_options, download_options)
    try:
        check_missing(manifest, max_missing_fraction, str(manifest_path))
    except RuntimeError:
        # Keep the evidence where Snakemake does not delete it (it removes a failed job's outputs).
        failed = manifest_path.with_name("manifest.failed.csv")
        write_csv(failed, manifest)
        log.error("per-image outcomes of this failed run: %s", failed)
        raise
    write_parquet(manifest_path, manifest)
    return manifest
