"""A scripted HTTP server on 127.0.0.1 for download tests (no other network is used).

Each path has a queue of behaviours consumed one per request; the last one repeats:
("ok", body) serves body (honouring `Range: bytes=N-` with 206), ("status", code) answers with that
status, ("cut", body, n) announces the full length but sends only n bytes and closes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler

from vlmrec.utils.local_http import send_body, send_empty, serve_local


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
                send_empty(self, code, {"Retry-After": "0"} if code == 429 else None)
                return
            # A cut response ignores Range: it always announces the whole body.
            send_body(
                self,
                behaviour[1],
                range_header=range_header if kind == "ok" else None,
                cut_at=behaviour[2] if kind == "cut" else None,
            )

    return Handler


@contextmanager
def scripted_server() -> Iterator[ScriptedServer]:
    state = ScriptedServer()
    with serve_local(_handler(state)) as base_url:
        state.base_url = base_url
        yield state
