"""Producing outcome lines to the outcomes topic (``sloburn send``), keyed by service."""

from __future__ import annotations

from typing import BinaryIO

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


async def send_lines(
    bootstrap: str, stream: BinaryIO, partitions: int, security: KafkaSecurity | None = None
) -> int:
    """Send each non-empty line as one message; returns how many were sent."""
    security = security or KafkaSecurity()
    await topics.ensure_topics(bootstrap, partitions, security)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=10, acks="all", **security.aiokafka_kwargs()
    )
    await producer.start()
    sent = 0
    try:
        for line in stream:
            line = line.strip()
            if line:
                await producer.send(topics.OUTCOMES, line, key=key_of(line))
                sent += 1
        await producer.flush()
    finally:
        await producer.stop()
    return sent
