"""Every client command finds the worker the same ways: ``--url`` before or after its action,
``SLOBURN_URL``, or ``SLOBURN_WEB_PORT``; ``--token`` likewise, or ``SLOBURN_TOKEN``. Driven
against a real HTTP server on loopback that records what reached it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from streams.cli.main import main

SILENCE = {
    "id": "s1",
    "status": "active",
    "matchers": {"service": "api"},
    "ends_at": "2026-11-29T12:00:00Z",
    "created_by": "t",
    "comment": "c",
}
EXCLUSION = {
    "id": "e1",
    "status": "active",
    "kind": "maintenance",
    "matchers": {"service": "api"},
    "starts_at": 1795514400.0,
    "ends_at": 1795518000.0,
    "created_by": "t",
    "comment": "c",
}
GATE = {"service": "api", "decision": "allow", "proceed": True, "reasons": []}


class Worker:
    """A stand-in for the worker's API: answers each client route, keeps (method, path, token)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def answer(self) -> None:
                auth = self.headers.get("Authorization", "")
                outer.seen.append((self.command, self.path, auth.removeprefix("Bearer ")))
                if self.path == "/v1/slos":
                    body: Any = {"slos": []}
                elif self.path == "/v1/overrides":
                    body = {"overrides": []}
                elif self.path.endswith("/override") and self.command == "GET":
                    body = {"service": "api", "override": None}
                elif self.path.startswith("/v1/gate/"):
                    body = GATE
                elif self.path.startswith("/v1/silences"):
                    body = {"silences": [SILENCE]} if self.command == "GET" else SILENCE
                else:
                    body = {"exclusions": [EXCLUSION]} if self.command == "GET" else EXCLUSION
                raw = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self) -> None:
                self.answer()

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.answer()

            def do_DELETE(self) -> None:
                self.answer()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def worker(monkeypatch: pytest.MonkeyPatch) -> Iterator[Worker]:
    for name in ("SLOBURN_URL", "SLOBURN_WEB_PORT", "SLOBURN_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    w = Worker()
    yield w
    w.stop()


COMMANDS = [
    (["silence"], ["list"], ("GET", "/v1/silences")),
    (
        ["silence"],
        ["add", "--service", "api", "--duration", "1h", "--comment", "c"],
        ("POST", "/v1/silences"),
    ),
    (["silence"], ["expire", "s1"], ("DELETE", "/v1/silences/s1")),
    (["exclude"], ["list"], ("GET", "/v1/exclusions")),
    (
        ["exclude"],
        ["add", "--service", "api", "--from", "1795514400", "--to", "1795518000", "--comment", "c"],
        ("POST", "/v1/exclusions"),
    ),
    (
        ["exclude"],
        [
            *["add", "--service", "api", "--from", "2026-12-06T02:00:00+01:00", "--to"],
            *["1796526000", "--comment", "c", "--every", "FREQ=WEEKLY;BYDAY=SU"],
            *["--timezone", "Europe/Berlin"],
        ],
        ("POST", "/v1/exclusions"),
    ),
    (["exclude"], ["delete", "e1"], ("DELETE", "/v1/exclusions/e1")),
    (["gate"], ["api"], ("GET", "/v1/gate/api")),
    (["status"], [], ("GET", "/v1/slos")),
    (["override"], ["list"], ("GET", "/v1/overrides")),
    (["override"], ["list", "api"], ("GET", "/v1/gate/api/override")),
    (
        ["override"],
        ["add", "api", "--reason", "r", "--for", "1h"],
        ("POST", "/v1/gate/api/override"),
    ),
    (["override"], ["revoke", "api"], ("DELETE", "/v1/gate/api/override")),
]


@pytest.mark.parametrize(("command", "rest", "request_"), COMMANDS, ids=lambda v: str(v))
@pytest.mark.parametrize("where", ["before", "after", "SLOBURN_URL", "SLOBURN_WEB_PORT"])
def test_every_client_command_finds_the_worker_every_way(
    worker: Worker,
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
    rest: list[str],
    request_: tuple[str, str],
    where: str,
) -> None:
    opts = ["--url", worker.url, "--token", "t0k"]
    if where == "before":
        argv = command + opts + rest
    elif where == "after":
        argv = command + rest + opts
    else:
        value = worker.url if where == "SLOBURN_URL" else str(worker.port)
        monkeypatch.setenv(where, value)
        monkeypatch.setenv("SLOBURN_TOKEN", "t0k")
        argv = command + rest
    assert main(argv) == 0
    assert worker.seen == [(*request_, "t0k")]
