"""Producing outcome lines to the outcomes topic (``sloburn send``), keyed by service."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import orjson
from aiokafka import AIOKafkaProducer

from streams.config.kafka_security import KafkaSecurity
from streams.kafka import topics


def key_of(line: bytes) -> bytes | None:
    """The service of a line (or of its first element), as the message key; None if unreadable.

    Unreadable lines are still sent: ingest puts them in the DLQ with a reason.
    """
    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    first = doc[0] if isinstance(doc, list) and doc else doc
    service = first.get("service") if isinstance(first, dict) else None
    return service.encode() if isinstance(service, str) else None


@dataclass
class Sent:
    """What a send put on the outcomes topic: messages, outcomes in them, and where the broker
    acknowledged each message (partition, offset), which is how its verdict is found later."""

    messages: int = 0
    outcomes: int = 0
    offsets: set[tuple[int, int]] = field(default_factory=set)

    def track(self, delivery: asyncio.Future[Any], outcomes: int) -> None:
        """Count one message; its offset is added once the broker acknowledges it."""
        self.messages += 1
        self.outcomes += outcomes

        def acked(f: asyncio.Future[Any]) -> None:
            if not f.cancelled() and f.exception() is None:
                self.offsets.add((f.result().partition, f.result().offset))

        delivery.add_done_callback(acked)

    def newest(self) -> dict[int, int]:
        """The newest acknowledged offset per partition."""
        out: dict[int, int] = {}
        for partition, offset in self.offsets:
            out[partition] = max(offset, out.get(partition, -1))
        return out


def outcomes_in(line: bytes) -> int:
    """Outcomes a message holds: an array's length, else one (unreadable lines count once)."""
    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError:
        return 1
    return len(doc) if isinstance(doc, list) else 1


async def send_lines(
    bootstrap: str, stream: BinaryIO, partitions: int, security: KafkaSecurity | None = None
) -> Sent:
    """Send each non-empty line as one message and wait for every acknowledgement."""
    security = security or KafkaSecurity()
    await topics.ensure_topics(bootstrap, partitions, security)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=10, acks="all", **security.aiokafka_kwargs()
    )
    await producer.start()
    sent = Sent()
    try:
        for line in stream:
            line = line.strip()
            if line:
                delivery = await producer.send(topics.OUTCOMES, line, key=key_of(line))
                sent.track(delivery, outcomes_in(line))
        await producer.flush()
    finally:
        await producer.stop()
    return sent
