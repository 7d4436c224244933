"""A local stand-in for the real data hosts (SNAP for the files, Amazon's CDN for the images).

Serves a folder on 127.0.0.1 and misbehaves the way the real hosts do, deterministically (by request
counters), so the rehearsal exercises every recovery path of vlmrec's downloader:

- every response is slow (`delay_s`, images a tenth of it);
- the ratings file answers 429 with `Retry-After: 1`, then a burst of 500 / 502, then the file;
- the metadata URL is a 301 redirect to a mirror path;
- the CNN-feature file's first response announces the full length and cuts the connection halfway
  (the downloader resumes with a `Range` request);
- images: every `throttle_every`-th request answers 429 with `Retry-After: 1`, requests
  `burst` (a range of request numbers) answer 503, missing files (the generator's dead links) 404.

`Range: bytes=N-` is honoured with 206. Counters of what was served are kept for the report.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from vlmrec.utils.local_http import send_body, send_empty, serve_local


@dataclass
class HostBehaviour:
    delay_s: float = 0.2
    throttle_every: int = 101
    burst: range = field(default_factory=lambda: range(200, 230))
    counts: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    image_requests: int = 0
    file_requests: Counter = field(default_factory=Counter)


def _handler(root: Path, host: HostBehaviour) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _empty(self, code: int, headers: dict[str, str] | None = None) -> None:
            send_empty(self, code, headers)
            with host.lock:
                host.counts[str(code)] += 1

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            path = self.path.split("?")[0]
            is_image = path.startswith("/images/")
            time.sleep(host.delay_s / 10 if is_image else host.delay_s)
            with host.lock:
                if is_image:
                    host.image_requests += 1
                    n = host.image_requests
                else:
                    host.file_requests[path] += 1
                    n = host.file_requests[path]
            if is_image and n % host.throttle_every == 0:
                return self._empty(429, {"Retry-After": "1"})
            if is_image and n in host.burst:
                return self._empty(503)
            if path.startswith("/ratings_") and n <= 3:
                return self._empty(*((429, {"Retry-After": "1"}) if n == 1 else (500 + 2 * (n - 2), None)))
            if path.startswith("/meta_"):
                return self._empty(301, {"Location": f"/mirror{path}"})
            local = root / path.removeprefix("/mirror").lstrip("/")
            if not local.is_file() or root not in local.resolve().parents:
                return self._empty(404)
            body = local.read_bytes()
            cut = path.startswith("/image_features_") and n == 1
            sent = send_body(
                self, body, range_header=self.headers.get("Range"), cut_at=len(body) // 2 if cut else None
            )
            with host.lock:
                host.counts[sent] += 1

    return Handler


@contextmanager
def serve(root: str | Path, behaviour: HostBehaviour | None = None) -> Iterator[tuple[str, HostBehaviour]]:
    """Serve `root` on 127.0.0.1 (a free port) while the block runs; yields (base URL, behaviour)."""
    host = behaviour or HostBehaviour()
    with serve_local(_handler(Path(root).resolve(), host)) as base_url:
        yield base_url, host
