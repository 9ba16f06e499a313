"""Compatibility with the embedded broker (Tansu): table recovery's high-water marks.

Tansu answers ListOffsets(LATEST) with the base offset of a partition's last record batch + 1,
not the true end (ENGINE-NOTES, trap 1). Faust recovers a table's changelog up to that mark, so
a restarted worker silently drops the rest of the last batch: table values go back to older
states. Fetch responses do carry the true high watermark, so the shim seeks each non-empty
changelog partition to the reported end - 1, fetches once and keeps the larger of the two. It
can only raise a mark, so it is harmless on a broker that reports ends correctly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

log = logging.getLogger(__name__)

FETCH_DEADLINE_S = 15.0


async def fetched_highwaters(bootstrap: str, reported: Mapping[Any, int]) -> dict[Any, int]:
    """The high watermarks of ``reported`` partitions as Fetch responses give them."""
    out = dict(reported)
    nonempty = [tp for tp, end in reported.items() if end]
    if not nonempty:
        return out
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        fetch_max_wait_ms=100,
    )
    await consumer.start()
    try:
        ktps = {tp: TopicPartition(tp.topic, tp.partition) for tp in nonempty}
        consumer.assign(list(ktps.values()))
        for tp, ktp in ktps.items():
            consumer.seek(ktp, reported[tp] - 1)
        deadline = time.monotonic() + FETCH_DEADLINE_S
        while time.monotonic() < deadline and any(
            consumer.highwater(k) is None for k in ktps.values()
        ):
            await consumer.getmany(timeout_ms=200)
        for tp, ktp in ktps.items():
            hw = consumer.highwater(ktp)
            if hw is None:
                log.warning("no fetch high watermark for %s; keeping %d", tp, reported[tp])
            elif hw > reported[tp]:
                log.info("recovery high watermark of %s corrected %d -> %d", tp, reported[tp], hw)
                out[tp] = hw
        return out
    finally:
        await consumer.stop()


def install_highwater_shim(bootstrap: str) -> None:
    """Make this process's Faust consumers take recovery high-water marks from a Fetch."""
    original = AIOKafkaConsumerThread._highwaters
    if getattr(original, "_sloburn_shim", False):
        return

    async def _highwaters(self: AIOKafkaConsumerThread, partitions: Any) -> Mapping[Any, int]:
        reported = await original(self, partitions)
        if self.consumer.in_transaction:
            return reported  # last stable offsets: a different mark, left alone
        return await fetched_highwaters(bootstrap, reported)

    _highwaters._sloburn_shim = True  # type: ignore[attr-defined]
    AIOKafkaConsumerThread._highwaters = _highwaters  # type: ignore[method-assign]
