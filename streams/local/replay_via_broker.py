"""``sloburn replay --via-broker``: the replay driver with a real worker behind the broker.

Outcomes go to the outcomes topic (batched, keyed by service so each service keeps its order);
before each evaluation time the driver waits until the worker has judged every outcome sent
and applied every SLI record it made, then asks the worker (in replay mode) to evaluate at t.
The rows come back in the same shape the in-process backend makes, so the files match.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from streams.config.model import Config
from streams.ingest.dead_letters import Rejection
from streams.kafka import topics
from streams.local.demo import start_worker, stop_process, wait_healthy
from streams.local.embedded_broker import EmbeddedBroker, free_port
from streams.replay.engine import replay_file
from streams.replay.rows import Rows

MESSAGE_MAX = 500  # outcomes per Kafka message
SETTLE_TIMEOUT_S = 120.0


def _own_bytes(obj: Any) -> bytes:
    """An array element's bytes to send on, for the worker to reach the verdict in-process
    replay reaches. Nested deeper than the encoder writes (254 levels; the decoder reads
    1024), only what ingest judges is sent: a non-object stays a non-object, an object keeps
    its fields flat, a deep field becomes an empty list (still the wrong type)."""
    try:
        return orjson.dumps(obj)
    except (TypeError, orjson.JSONEncodeError):
        if not isinstance(obj, dict):
            return b"[]"
        flat: dict[str, Any] = {
            k: v if isinstance(v, str | int | float | bool) else [] for k, v in obj.items()
        }
        return orjson.dumps(flat)


class ViaBroker:
    """Backend that counts and evaluates in a worker through the embedded broker."""

    def __init__(self, bootstrap: str, web: str) -> None:
        self.bootstrap, self.web = bootstrap, web
        self.loop = asyncio.new_event_loop()

        async def start() -> AIOKafkaProducer:
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
            await producer.start()
            return producer

        self.producer = self.loop.run_until_complete(start())
        self.pending: list[tuple[bytes | None, bytes]] = []  # (key, one outcome's bytes)
        self.whole: list[bytes] = []  # undecodable messages, sent as they came
        self.sent = 0

    def add(self, obj: Any, raw: bytes | None) -> None:
        service = obj.get("service") if isinstance(obj, dict) else None
        key = service.encode() if isinstance(service, str) else None
        self.pending.append((key, raw if raw is not None else _own_bytes(obj)))

    def reject(self, rejection: Rejection) -> None:
        self.whole.append(rejection.raw)

    def _flush(self) -> None:
        messages: list[tuple[bytes | None, bytes]] = [(None, raw) for raw in self.whole]
        by_key: dict[bytes | None, list[bytes]] = {}
        for key, raw in self.pending:
            by_key.setdefault(key, []).append(raw)
        for key, raws in by_key.items():
            for i in range(0, len(raws), MESSAGE_MAX):
                messages.append((key, b"[" + b",".join(raws[i : i + MESSAGE_MAX]) + b"]"))
        self.sent += len(self.whole) + len(self.pending)
        self.pending, self.whole = [], []

        async def send() -> None:
            for key, value in messages:
                await self.producer.send(topics.OUTCOMES, value, key=key)
            await self.producer.flush()

        self.loop.run_until_complete(send())

    def _get(self, path: str) -> Any:
        with urllib.request.urlopen(self.web + path, timeout=30) as r:
            return orjson.loads(r.read())

    def _settle(self) -> None:
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while time.monotonic() < deadline:
            p = self._get("/v1/replay/progress")
            if p["outcomes"] == self.sent and p["sli_applied"] == p["sli_sent"]:
                return
            time.sleep(0.01)
        raise TimeoutError(f"worker did not count {self.sent} outcomes within {SETTLE_TIMEOUT_S}s")

    def evaluate(self, t: float) -> list[Rows]:
        self._flush()
        self._settle()
        req = urllib.request.Request(
            self.web + "/v1/replay/evaluate",
            data=json.dumps({"t": t}).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=60) as r:
            rows: list[Rows] = orjson.loads(r.read())["rows"]
        return rows

    def rejected(self) -> dict[str, int]:
        self._flush()
        self._settle()
        out: dict[str, int] = self._get("/v1/replay/progress")["rejected"]
        return out

    def close(self) -> None:
        self.loop.run_until_complete(self.producer.stop())
        self.loop.close()


def via_broker(
    path: Path, config_paths: Sequence[str], cfg: Config, out: Path, every: int, now: float
) -> str:
    """Replay ``path`` through a fresh embedded broker and worker; returns the summary."""
    with tempfile.TemporaryDirectory(prefix="sloburn-replay-") as tmp, ExitStack() as stack:
        # Each child is stopped on the way out, whatever ends the replay (SIGTERM included).
        broker = stack.enter_context(EmbeddedBroker(free_port(), Path(tmp) / "broker.log"))
        port = free_port()
        worker = start_worker(
            list(config_paths),
            broker.bootstrap,
            port,
            dict(os.environ),
            Path(tmp) / "worker.log",
            "--replay-mode",
        )
        stack.callback(stop_process, worker)
        web = f"http://127.0.0.1:{port}"
        asyncio.run(wait_healthy(f"{web}/healthz", worker))
        backend = ViaBroker(broker.bootstrap, web)
        stack.callback(backend.close)
        return replay_file(path, cfg, out, every, backend, now)
