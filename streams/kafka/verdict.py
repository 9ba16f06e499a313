"""The worker's verdict on what ``sloburn send --check`` sent: which outcomes it rejected, and
why, read from where the worker says it (its consumer group's committed offsets and the
dead-letter topic), so the answer is the worker's, not a guess made by the sender.

Once the group ``sloburn-ingest`` has committed past every acknowledged offset, the worker has read
each message; every message it rejected anything of has a DLQ record naming its source
(partition, offset). Reading the DLQ from where it ended before the send finds exactly those.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from streams.config.kafka_security import KafkaSecurity
from streams.ingest.dead_letters import rejected_by_reason
from streams.kafka import topics
from streams.kafka.sender import Sent

POLL_S = 0.5
# After the commit, how long before the DLQ records are readable (the worker commits only
# after the broker acknowledged them; the embedded broker may answer a fetch a little late).
SETTLE_S = 2.0
READ_S = 30.0  # reading the DLQ records written since the send


@dataclass
class Rejections:
    """Rejected outcomes per reason among the messages sent, and the DLQ records naming them."""

    by_reason: dict[str, int] = field(default_factory=dict)
    records: int = 0

    @property
    def total(self) -> int:
        """Rejected outcomes in all."""
        return sum(self.by_reason.values())

    def add(self, record: bytes, sent: Sent) -> None:
        """Count one DLQ record if it names a message of ``sent``."""
        try:
            doc = orjson.loads(record)
        except orjson.JSONDecodeError:
            return
        if not isinstance(doc, dict) or doc.get("topic") != topics.OUTCOMES:
            return
        if (doc.get("partition"), doc.get("offset")) not in sent.offsets:
            return
        self.records += 1
        for reason, n in rejected_by_reason(doc).items():
            self.by_reason[reason] = self.by_reason.get(reason, 0) + n


def _consumer(bootstrap: str, security: KafkaSecurity) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, **security.aiokafka_kwargs()
    )


async def dlq_ends(bootstrap: str, security: KafkaSecurity) -> dict[int, int]:
    """Where each DLQ partition ends now: what was there before the send is not its verdict.
    (The embedded broker may answer a little short of the end; reading a few older records
    costs nothing, they name older offsets.)"""
    consumer = _consumer(bootstrap, security)
    await consumer.start()
    try:
        parts = await _partitions(consumer, topics.OUTCOMES_DLQ)
        ends = await consumer.end_offsets([TopicPartition(topics.OUTCOMES_DLQ, p) for p in parts])
        return {tp.partition: off for tp, off in ends.items()}
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[int]:
    await consumer.topics()  # loads the cluster's metadata
    return sorted(consumer.partitions_for_topic(topic) or ())


async def _behind(consumer: AIOKafkaConsumer, tps: list[TopicPartition]) -> bool:
    """Whether a partition is not read to its end yet. The end is the high watermark a Fetch
    answer carries: the embedded broker answers ListOffsets with the start of the last batch
    + 1, so records of that batch would be missed (streams.kafka.compat)."""
    for tp in tps:
        end = consumer.highwater(tp)
        if end is None or await consumer.position(tp) < end:
            return True
    return False


async def _read_past(bootstrap: str, security: KafkaSecurity, sent: Sent, deadline: float) -> bool:
    """Wait until the worker's group has committed past every acknowledged offset."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **security.aiokafka_kwargs())
    await admin.start()
    try:
        newest = sent.newest()
        tps = [TopicPartition(topics.OUTCOMES, p) for p in newest]
        while True:
            offsets = await admin.list_consumer_group_offsets(topics.INGEST_GROUP, partitions=tps)
            done = {tp.partition: om.offset for tp, om in offsets.items() if om is not None}
            if all(done.get(p, -1) > off for p, off in newest.items()):
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(POLL_S)
    finally:
        await admin.close()


async def rejections(
    bootstrap: str,
    security: KafkaSecurity,
    sent: Sent,
    dlq_from: dict[int, int],
    timeout_s: float,
) -> Rejections | None:
    """The worker's rejections among ``sent``; None when it has not read them all within
    ``timeout_s`` (no worker running, or far behind)."""
    deadline = time.monotonic() + timeout_s
    if not await _read_past(bootstrap, security, sent, deadline):
        return None
    await asyncio.sleep(SETTLE_S)
    found = Rejections()
    consumer = _consumer(bootstrap, security)
    await consumer.start()
    try:
        parts = await _partitions(consumer, topics.OUTCOMES_DLQ)
        tps = [TopicPartition(topics.OUTCOMES_DLQ, p) for p in parts]
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, dlq_from.get(tp.partition, 0))
        read_until = time.monotonic() + READ_S
        while await _behind(consumer, tps):
            if time.monotonic() >= read_until:
                return None
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for r in records:
                    if r.value is not None:
                        found.add(r.value, sent)
        return found
    finally:
        await consumer.stop()
