"""Ingest agent: outcomes -> validated, classified, pre-aggregated SLI records keyed by SLO.

One SLI record per (SLO, source partition) per batch, whatever the number of outcomes, so the
window tables see one update per key per batch (per-event updates cost 3-8x in throughput).
Judging a message is contained (streams.ingest.outcomes.ingest_message); failing to publish
what was judged is not, and stops the worker before the batch's offsets can be committed.
"""

from __future__ import annotations

import time
from typing import Any

from streams.ingest.aggregate import Aggregate
from streams.ingest.dead_letters import dlq_record
from streams.ingest.outcomes import ingest_message
from streams.kafka import topics
from streams.runtime import failpoints
from streams.runtime.containment import contained, source_of
from streams.runtime.wiring import Wiring

BATCH_MAX = 5000
BATCH_WITHIN_S = 0.1


def fault_point(raw: bytes) -> None:
    """Where SLOBURN_FAILPOINTS can make judging a message raise (the containment tests)."""
    failpoints.check("ingest", raw)


def register(w: Wiring) -> None:
    """Attach the ingest agent to the app."""
    m = w.metrics
    n = w.cfg.settings.partitions  # fixed for the worker's life (streams.runtime.reload)
    # Newest accepted event time per service (all of a service's outcomes share a partition).
    # In memory: after a restart lateness is judged from the first events seen again.
    watermarks: dict[str, float] = {}
    tp = w.throughput

    @w.app.agent(w.outcomes, name="ingest")
    @contained("ingest")
    async def ingest(stream: Any) -> None:
        async for events in stream.take_events(BATCH_MAX, within=BATCH_WITHIN_S):
            now = time.time()
            cfg = w.cfg  # read per batch: a reload swaps it
            per_partition: dict[int, Aggregate] = {}
            for ev in events:
                msg = ev.message
                agg = per_partition.setdefault(msg.partition, Aggregate())
                raw = ev.value or b""
                rejections = ingest_message(
                    raw, cfg, now, agg, watermarks, msg.offset, judged=fault_point
                )
                if not rejections:
                    continue
                for rej in rejections:
                    m.events_rejected.labels(rej.reason).inc()
                    tp.rejected[rej.reason] = tp.rejected.get(rej.reason, 0) + 1
                where = None
                if rejections[0].reason == "internal_error":
                    m.internal_errors.labels("ingest").inc()
                    where = source_of(ev)
                tp.outcomes += len(rejections)
                m.dlq_records.inc()
                await w.outcomes_dlq.send(key=msg.key, value=dlq_record(raw, rejections, where))
            for src_partition, agg in per_partition.items():
                for rec in agg.records(src_partition):
                    await w.sli.send(
                        key=rec.slo.encode(),
                        value=rec.to_bytes(),
                        partition=topics.partition_for_slo(rec.slo, n),
                    )
                    tp.sli_sent += 1
                for service, count in agg.accepted.items():
                    m.events_accepted.labels(service).inc(count)
                    tp.outcomes += count
                for slo_id, count in agg.skipped.items():
                    m.outcomes_skipped.labels(slo_id).inc(count)
