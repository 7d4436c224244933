"""A scripted HTTP server on 127.0.0.1 for download tests (no other network is used).

Each path has a queue of behaviours consumed one per request; the last one repeats:
("ok", body) serves body (honouring `Range: bytes=N-` with 206), ("status", code) answers with that
status, ("cut", body, n) announces the full length but sends only n bytes and closes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ScriptedServer:
    def __init__(self) -> None:
        self.script: dict[str, list[tuple]] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.lock = threading.Lock()
        self.base_url = ""

    def add(self, path: str, *behaviours: tuple) -> str:
        self.script[path] = list(behaviours)
        return self.base_url + path

    def next_behaviour(self, path: str) -> tuple:
        with self.lock:
            queue = self.script.get(path)
            if not queue:
                return ("status", 404)
            return queue.pop(0) if len(queue) > 1 else queue[0]

    def count(self, path: str) -> int:
        return sum(1 for p, _ in self.requests if p == path)


def _handler(server_state: ScriptedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep test output quiet
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            range_header = self.headers.get("Range")
            with server_state.lock:
                server_state.requests.append((self.path, range_header))
            behaviour = server_state.next_behaviour(self.path)
            kind = behaviour[0]
            if kind == "status":
                code = behaviour[1]
                self.send_response(code)
                if code == 429:
                    self.send_header("Retry-After", "0")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = behaviour[1]
            start = 0
            if range_header and range_header.startswith("bytes=") and kind == "ok":
                start = int(range_header[len("bytes=") :].split("-")[0])
                if start >= len(body):
                    self.send_response(416)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            payload = body[start:]
            self.send_header("Content-Length", str(len(payload)))
            if kind == "cut":
                self.send_header("Connection", "close")
            self.end_headers()
            if kind == "cut":
                self.wfile.write(payload[: behaviour[2]])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(payload)

    return Handler


@contextmanager
def scripted_server() -> Iterator[ScriptedServer]:
    state = ScriptedServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
