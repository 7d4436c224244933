"""Downloading files: streaming, resumable, retried, atomic, with a checksum record.

One function, `download_file`, handles `http(s)://` and `file:` URLs alike, so the embedded demo
and a local mirror go through the code path the real data uses. A download streams into
`<dest>.part`; after a cut connection the next attempt (or the next run) asks for the rest with an
HTTP `Range` header. Timeouts, connection errors, 429 and 5xx are retried with exponential backoff
(a 429's `Retry-After` is honoured). Other 4xx fail at once. When complete, the part file is
renamed onto `dest` and `<dest>.sha256.json` records url, size and SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER_SECONDS = 120.0
RECORD_SUFFIX = ".sha256.json"


@dataclass(frozen=True)
class DownloadOptions:
    """The `download:` section of the config."""

    retries: int = 5
    backoff_seconds: float = 2.0
    timeout_seconds: float = 60.0
    chunk_bytes: int = 1 << 20

    @classmethod
    def from_mapping(cls, values: dict[str, Any] | None) -> DownloadOptions:
        values = dict(values or {})
        return cls(
            retries=int(values.get("retries", cls.retries)),
            backoff_seconds=float(values.get("backoff_seconds", cls.backoff_seconds)),
            timeout_seconds=float(values.get("timeout_seconds", cls.timeout_seconds)),
            chunk_bytes=int(values.get("chunk_bytes", cls.chunk_bytes)),
        )


class HTTPStatusError(RuntimeError):
    """A non-retryable (or finally failed) HTTP status; `status` holds the code."""

    def __init__(self, url: str, status: int):
        super().__init__(f"{url}: HTTP {status}")
        self.url = url
        self.status = status


class _RetryableError(Exception):
    def __init__(self, message: str, wait: float | None = None, status: int | None = None):
        super().__init__(message)
        self.wait = wait
        self.status = status


def is_file_url(url: str) -> bool:
    return url.startswith("file:")


def file_url_path(url: str) -> Path:
    """Local path of a `file:` URL: `file:rel/path` is relative to the working directory,
    `file:///abs/path` (or `file:/abs/path`) is absolute."""
    if not is_file_url(url):
        raise ValueError(f"not a file: URL: {url}")
    rest = url[len("file:") :]
    if rest.startswith("//"):
        parsed = urllib.parse.urlparse(url)
        if parsed.netloc not in ("", "localhost"):
            raise ValueError(f"{url}: file: URLs with a host are not supported")
        return Path(urllib.parse.unquote(parsed.path))
    return Path(urllib.parse.unquote(rest))


def _backoff(options: DownloadOptions, attempt: int, wait: float | None) -> float:
    if wait is not None:
        return min(wait, MAX_RETRY_AFTER_SECONDS)
    return options.backoff_seconds * (2**attempt)


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def with_retries(url: str, options: DownloadOptions, attempt_fn):  # noqa: ANN001, ANN201
    """Call `attempt_fn()` until it returns; retry `_RetryableError` and network errors."""
    last: Exception | None = None
    for attempt in range(options.retries + 1):
        try:
            return attempt_fn()
        except _RetryableError as exc:
            last, wait = exc, exc.wait
        except (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            last, wait = exc, None
        if attempt < options.retries:
            delay = _backoff(options, attempt, wait)
            log.warning("%s: %s; retry %d/%d in %.1fs", url, last, attempt + 1, options.retries, delay)
            time.sleep(delay)
    if isinstance(last, _RetryableError) and last.status is not None:
        raise HTTPStatusError(url, last.status)
    raise RuntimeError(f"{url}: giving up after {options.retries + 1} attempts: {last}")


def _check_status(url: str, response: requests.Response) -> None:
    if response.status_code in RETRY_STATUS:
        wait = _retry_after(response) if response.status_code == 429 else None
        response.close()
        raise _RetryableError(f"HTTP {response.status_code}", wait, response.status_code)
    if response.status_code >= 400:
        response.close()
        raise HTTPStatusError(url, response.status_code)


class _Progress:
    """Progress to a tqdm bar on a terminal, else a log line every ~10%."""

    def __init__(self, label: str, total: int | None, initial: int):
        self.label, self.total, self.done = label, total, initial
        self.next_log = 0.1
        self.bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, unit="B", unit_scale=True, desc=label)

    def update(self, n: int) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        elif self.total and self.done / self.total >= self.next_log:
            log.info("%s: %.0f%% of %d bytes", self.label, 100 * self.done / self.total, self.total)
            self.next_log += 0.1

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _http_attempt(url: str, part: Path, options: DownloadOptions, session: requests.Session) -> None:
    """One attempt: resume `part` from its current size; raise on a short read."""
    have = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    response = session.get(url, stream=True, timeout=options.timeout_seconds, headers=headers)
    if response.status_code == 416 and have:
        # The range starts at or past the end: the server's file may have changed. Start over.
        response.close()
        part.unlink()
        raise _RetryableError("HTTP 416 on resume; restarting from byte 0", wait=0.0)
    _check_status(url, response)
    if have and response.status_code == 206:
        mode = "ab"
        log.info("%s: resuming at byte %d", url, have)
    else:
        mode, have = "wb", 0
    length = response.headers.get("Content-Length")
    expected = have + int(length) if length is not None and length.isdigit() else None
    progress = _Progress(Path(part.name).stem, expected, have)
    try:
        with response, open(part, mode) as handle:
            for chunk in response.iter_content(chunk_size=options.chunk_bytes):
                handle.write(chunk)
                progress.update(len(chunk))
    finally:
        progress.close()
    size = part.stat().st_size
    if expected is not None and size < expected:
        raise _RetryableError(f"connection cut at byte {size} of {expected}", wait=None)


def _copy_local(url: str, part: Path, options: DownloadOptions) -> None:
    source = file_url_path(url)
    if not source.is_file():
        raise FileNotFoundError(f"{url}: no such file {source.resolve()}")
    with open(source, "rb") as src, open(part, "wb") as dst:
        shutil.copyfileobj(src, dst, length=options.chunk_bytes)


def _forget_part_of_other_url(part: Path, url: str) -> None:
    """A leftover `.part` is resumed only for the URL that started it (`.part.url` says which)."""
    marker = part.with_name(part.name + ".url")
    if part.exists() and (not marker.exists() or marker.read_text().strip() != url):
        log.warning("%s: discarding %s left by another URL", url, part)
        part.unlink()
    marker.write_text(url + "\n")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def download_file(
    url: str,
    dest: str | Path,
    options: DownloadOptions | None = None,
    session: requests.Session | None = None,
) -> dict[str, Any]:
    """Fetch `url` to `dest` atomically (resuming a previous `.part`); return the record written
    to `<dest>.sha256.json` (url, bytes, sha256, seconds)."""
    options = options or DownloadOptions()
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    started = time.monotonic()
    if is_file_url(url):
        _copy_local(url, part, options)
    elif url.startswith(("http://", "https://")):
        _forget_part_of_other_url(part, url)
        own_session = session is None
        session = session or requests.Session()
        try:
            with_retries(url, options, lambda: _http_attempt(url, part, options, session))
        finally:
            if own_session:
                session.close()
    else:
        raise ValueError(f"unsupported URL scheme (use http(s):// or file:): {url}")
    record = {
        "url": url,
        "bytes": part.stat().st_size,
        "sha256": _sha256(part),
        "seconds": round(time.monotonic() - started, 3),
    }
    os.replace(part, dest)
    part.with_name(part.name + ".url").unlink(missing_ok=True)
    record_path = dest.with_name(dest.name + RECORD_SUFFIX)
    tmp = record_path.with_name(record_path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(tmp, record_path)
    log.info("%s -> %s (%d bytes, sha256 %s)", url, dest, record["bytes"], record["sha256"][:12])
    return record


def fetch_bytes(
    url: str, options: DownloadOptions, session: requests.Session, max_bytes: int | None = None
) -> bytes:
    """Small in-memory fetch (product images) with the same retry rules; raises HTTPStatusError,
    FileNotFoundError or RuntimeError. `max_bytes` refuses oversized bodies."""
    if is_file_url(url):
        path = file_url_path(url)
        if not path.is_file():
            raise FileNotFoundError(f"{url}: no such file")
        return path.read_bytes()

    def attempt() -> bytes:
        response = session.get(url, timeout=options.timeout_seconds, stream=True)
        _check_status(url, response)
        chunks, total = [], 0
        with response:
            for chunk in response.iter_content(chunk_size=options.chunk_bytes):
                total += len(chunk)
                if max_bytes is not None and total > max_bytes:
                    raise ValueError(f"{url}: body larger than {max_bytes} bytes")
                chunks.append(chunk)
        return b"".join(chunks)

    return with_retries(url, options, attempt)
