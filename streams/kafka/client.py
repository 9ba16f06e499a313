"""Producer-side helper for services: batch outcomes, or pre-aggregate them, before producing.

One Kafka message per request is the engine's most expensive input (a Faust agent handles about
20k messages/s, whatever their size). ``OutcomeClient`` packs many outcomes per message, and
with a config it counts good/total per (SLO, second) locally, so a busy service sends a few
messages per second instead of one per request. Counting uses the worker's own judgement
(``streams.ingest.outcomes.judge``), so an aggregate equals what the worker would have counted.

    client = OutcomeClient("kafka:9092", config=load_config(["slo_config.yaml"]))
    await client.start()
    await client.record({"service": "checkout-api", "ts": time.time(), "status_code": 200})
    ...
    await client.stop()  # flushes
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Mapping
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from pydantic import ValidationError

from streams.config.kafka_security import KafkaSecurity
from streams.config.model import Config
from streams.ingest.judging import judge
from streams.ingest.schema import RawOutcome
from streams.kafka import topics
from streams.kafka.sender import Sent

MAX_PER_MESSAGE = 500


class OutcomeClient:
    """Buffers outcomes and produces them every ``flush_every_s`` (or when a batch is full).

    Without ``config`` outcomes are sent as they are, many per message (JSON arrays). With it,
    they are counted per (SLO, whole second) and sent as pre-counted ``good``/``total`` events.
    An outcome that is not valid raises ValueError at ``record``: the caller's bug, reported to
    the caller, never silently dropped.
    """

    def __init__(
        self,
        bootstrap: str,
        config: Config | None = None,
        *,
        flush_every_s: float = 1.0,
        security: KafkaSecurity | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.config = config
        self.flush_every_s = flush_every_s
        self.security = security or KafkaSecurity()
        self._raw: dict[str, list[bytes]] = {}  # service -> encoded outcomes
        self._counts: dict[tuple[str, str, int], list[int]] = {}  # (service, slo, second)
        self._producer: AIOKafkaProducer | None = None
        self._ticker: asyncio.Task[None] | None = None
        self.sent = Sent()
        self.recorded = 0

    async def start(self) -> None:
        """Connect and start the periodic flush."""
        # acks=all: an outcome is acknowledged once every in-sync replica has it, so a leader
        # failover on a replicated cluster cannot lose what was acknowledged.
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            linger_ms=5,
            acks="all",
            **self.security.aiokafka_kwargs(),
        )
        await self._producer.start()
        self._ticker = asyncio.create_task(self._tick())

    async def stop(self) -> None:
        """Flush what is buffered and disconnect."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        await self.flush()
        if self._producer is not None:
            await self._producer.stop()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.flush_every_s)
            await self.flush()

    async def record(self, outcome: Mapping[str, Any]) -> None:
        """Add one request's outcome (the raw event schema)."""
        try:
            ev = RawOutcome.model_validate(outcome)
        except ValidationError as e:
            err = e.errors()[0]
            raise ValueError(f"{'.'.join(map(str, err['loc']))}: {err['msg']}") from None
        self.recorded += 1
        if self.config is None:
            batch = self._raw.setdefault(ev.service, [])
            batch.append(orjson.dumps(ev.model_dump(exclude_none=True)))
            if len(batch) >= MAX_PER_MESSAGE:
                await self._send(ev.service, self._raw.pop(ev.service))
            return
        slos = self.config.slos_of(ev.service)
        if not slos:
            raise ValueError(f"service: {ev.service!r} has no SLO in the config")
        second = math.floor(ev.ts)
        for slo in slos:
            good = judge(slo, ev)
            if good is None:
                continue  # the worker would skip it too (and count it as skipped)
            cell = self._counts.setdefault((ev.service, slo.id, second), [0, 0])
            cell[0] += int(good)
            cell[1] += 1

    async def flush(self) -> None:
        """Produce everything buffered now."""
        raw, self._raw = self._raw, {}
        for service, batch in raw.items():
            await self._send(service, batch)
        counts, self._counts = self._counts, {}
        per_service: dict[str, list[bytes]] = {}
        for (service, slo_id, second), (good, total) in sorted(counts.items()):
            per_service.setdefault(service, []).append(
                orjson.dumps(
                    {"service": service, "slo": slo_id, "ts": second, "good": good, "total": total}
                )
            )
        for service, items in per_service.items():
            for i in range(0, len(items), MAX_PER_MESSAGE):
                await self._send(service, items[i : i + MAX_PER_MESSAGE])
        if self._producer is not None:
            await self._producer.flush()

    async def _send(self, service: str, items: list[bytes]) -> None:
        assert self._producer is not None, "start() first"
        delivery = await self._producer.send(
            topics.OUTCOMES, b"[" + b",".join(items) + b"]", key=service.encode()
        )
        self.sent.track(delivery, len(items))


async def send_outcomes(
    bootstrap: str,
    lines: list[bytes],
    config: Config | None,
    security: KafkaSecurity | None = None,
) -> tuple[int, Sent]:
    """Send raw outcome lines through a client: (outcomes recorded, what was produced).
    Lines that are not valid outcomes raise ValueError naming the line."""
    client = OutcomeClient(bootstrap, config, flush_every_s=3600, security=security)
    await client.start()
    try:
        for n, line in enumerate(lines, 1):
            try:
                await client.record(orjson.loads(line))
            except (ValueError, orjson.JSONDecodeError) as e:
                raise ValueError(f"line {n}: {e}") from None
    finally:
        await client.stop()
    return client.recorded, client.sent
