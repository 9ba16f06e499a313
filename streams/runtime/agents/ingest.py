"""Ingest: outcomes -> validated, classified, pre-aggregated SLI records keyed by SLO.

One SLI record per (SLO, source partition) per batch, whatever the number of outcomes, so the
window tables see one update per key per batch (per-event updates cost 3-8x in throughput).
Judging a message is contained (streams.ingest.outcomes.ingest_message); failing to publish
what was judged is not, and stops the worker before the batch's offsets can be committed
(streams.runtime.agents.input_feed reads the input topics and commits).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Iterator
from typing import Any

from streams.ingest.aggregate import RECORD_CONTRIBUTIONS_MAX, Aggregate
from streams.ingest.dead_letters import Rejection, dlq_record
from streams.ingest.outcomes import Reader, ingest_message, read_outcomes
from streams.kafka import topics
from streams.runtime import failpoints
from streams.runtime.wiring import Wiring
from streams.state.sli_record import SliRecord, pack


def source_of_offsets(topic: str, partition: int) -> str:
    """The sequence a message's offset belongs to (SliRecord.source): the partition's number
    on sloburn.outcomes (as table blocks have always recorded it), else topic and partition."""
    return str(partition) if topic == topics.OUTCOMES else f"{topic}:{partition}"


def fault_point(raw: bytes) -> None:
    """Where SLOBURN_FAILPOINTS can make judging a message raise (the containment tests)."""
    failpoints.check("ingest", raw)


class Ingest:
    """The ingest agent's state: the newest accepted event time per source partition and
    service. Per partition because lateness is about one ordered stream: a service's outcomes
    share a partition of sloburn.outcomes, but the Collector spreads a service's spans over
    every partition of its topic, and a partition read behind another is not late. In memory:
    after a restart lateness is judged from the first events seen again.

    A batch takes each offset of a source once. Copies across batches need nothing here: the
    window table skips an offset a block already holds. Remembering offsets across batches
    would, after the embedded broker restarts with offsets from 0, skip new messages."""

    def __init__(self, w: Wiring, read: Reader = read_outcomes) -> None:
        self.w = w
        self.read = read  # the input's format (outcomes JSON, OTLP)
        self.watermarks: dict[str, dict[str, float]] = {}

    async def batch(self, messages: list[Any]) -> list[Awaitable[Any]]:
        """Judge a batch of messages (aiokafka ConsumerRecords), dead-letter what cannot
        count, publish the SLI records; the deliveries to wait for before committing."""
        now = time.time()
        cfg = self.w.cfg  # read per batch: a reload swaps it
        per_source: dict[str, Aggregate] = {}
        newest: dict[str, int] = {}  # source -> newest offset taken into this batch
        sent: list[Awaitable[Any]] = []
        # (topic, partition) -> (source, its aggregate, its watermarks): looked up once a
        # partition, not once a message
        where: dict[tuple[str, int], tuple[str, Aggregate, dict[str, float]]] = {}
        for msg in messages:
            found = where.get((msg.topic, msg.partition))
            if found is None:
                source = source_of_offsets(msg.topic, msg.partition)
                agg = per_source.setdefault(source, Aggregate())
                found = where[msg.topic, msg.partition] = (
                    source,
                    agg,
                    self.watermarks.setdefault(source, {}),
                )
            source, agg, marks = found
            if msg.offset <= newest.get(source, -1):
                # A copy of a message this batch holds. Its counts would merge into the same
                # per-offset contribution, which the window table cannot tell from one.
                self.w.metrics.input_redeliveries.inc()
                continue
            newest[source] = msg.offset
            raw = msg.value or b""
            rejections = ingest_message(
                raw, cfg, now, agg, marks, msg.offset, judged=fault_point, read=self.read
            )
            if rejections:
                sent.append(await self.dead_letter(msg, raw, rejections))
        for source, agg in per_source.items():
            sent.extend(await self.publish(source, agg))
        return sent

    async def dead_letter(
        self, msg: Any, raw: bytes, rejections: list[Rejection]
    ) -> Awaitable[Any]:
        """One DLQ record for a message with rejected outcomes, counted per reason."""
        m, tp = self.w.metrics, self.w.throughput
        for rej in rejections:
            m.events_rejected.labels(rej.reason).inc()
            tp.rejected[rej.reason] = tp.rejected.get(rej.reason, 0) + 1
        if rejections[0].reason == "internal_error":
            m.internal_errors.labels("ingest").inc()
        tp.outcomes += len(rejections)
        m.dlq_records.inc()
        dlq = self.w.outcomes_dlq
        # The source says which message it was: `sloburn send --check` finds its own by it.
        where = {"topic": msg.topic, "partition": msg.partition, "offset": msg.offset}
        return await dlq.send(key=msg.key, value=dlq_record(raw, rejections, where))

    async def publish(self, source: str, agg: Aggregate) -> list[Awaitable[Any]]:
        """The SLI records of one source partition's outcomes, packed per SLI partition, and
        their counts; their deliveries."""
        w, m, tp = self.w, self.w.metrics, self.w.throughput
        n = w.cfg.settings.partitions  # fixed for the worker's life (streams.runtime.reload)
        sent = []
        for partition, records in packs(agg.records(source), n):
            sent.append(await w.sli.send(key=None, value=pack(records), partition=partition))
            tp.sli_sent += 1
        for service, count in agg.accepted.items():
            m.events_accepted.labels(service).inc(count)
            tp.outcomes += count
        for slo_id, count in agg.skipped.items():
            m.outcomes_skipped.labels(slo_id).inc(count)
        return sent


def packs(records: list[SliRecord], partitions: int) -> Iterator[tuple[int, list[SliRecord]]]:
    """(SLI partition, records) per message: each record goes to its SLO's partition, and a
    message holds at most RECORD_CONTRIBUTIONS_MAX contributions (the producer's 1 MiB limit)
    unless one record alone has more."""
    by_partition: dict[int, list[SliRecord]] = {}
    for rec in records:
        by_partition.setdefault(topics.partition_for_slo(rec.slo, partitions), []).append(rec)
    for partition, of_partition in by_partition.items():
        chunk: list[SliRecord] = []
        size = 0
        for rec in of_partition:
            if chunk and size + len(rec.counts) > RECORD_CONTRIBUTIONS_MAX:
                yield partition, chunk
                chunk, size = [], 0
            chunk.append(rec)
            size += len(rec.counts)
        yield partition, chunk
