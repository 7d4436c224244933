"""A local HTTP server for stand-ins of the real data hosts (download tests, the rehearsal).

Only 127.0.0.1 is served. `serve_local` runs a handler class on a free port while a block runs;
`send_empty` / `send_body` answer the way the real hosts do: `Range: bytes=N-` gets a 206 (416
past the end), and a "cut" response announces the full length but sends fewer bytes and closes,
so a downloader's resume path is exercised.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def serve_local(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve `handler` on 127.0.0.1 (a free port) while the block runs; yields the base URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def send_empty(handler: BaseHTTPRequestHandler, code: int, headers: Mapping[str, str] | None = None) -> None:
    """A response with no body: status `code` and `headers`."""
    handler.send_response(code)
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.send_header("Content-Length", "0")
    handler.end_headers()


def send_body(
    handler: BaseHTTPRequestHandler, body: bytes, *, range_header: str | None, cut_at: int | None = None
) -> str:
    """Send `body` from the start that `range_header` (`bytes=N-`, or None) asks for; `cut_at`:
    send only that many bytes of it, then close. Returns what was sent: "200", "206", "416" or "cut"."""
    start = 0
    if range_header and range_header.startswith("bytes="):
        start = int(range_header[len("bytes=") :].split("-")[0])
        if start >= len(body):
            send_empty(handler, 416)
            return "416"
        handler.send_response(206)
        handler.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
    else:
        handler.send_response(200)
    payload = body[start:]
    handler.send_header("Content-Length", str(len(payload)))
    if cut_at is not None:
        handler.send_header("Connection", "close")
    handler.end_headers()
    if cut_at is not None:
        handler.wfile.write(payload[:cut_at])
        handler.wfile.flush()
        handler.close_connection = True
        return "cut"
    handler.wfile.write(payload)
    return "206" if start else "200"
