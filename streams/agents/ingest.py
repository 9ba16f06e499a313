"""Ingest agent: outcomes -> validated, classified, pre-aggregated SLI records keyed by SLO.

One SLI record per (SLO, source partition) per batch, whatever the number of outcomes, so the
window tables see one update per key per batch (per-event updates cost 3-8x in throughput).
"""

from __future__ import annotations

import time
from typing import Any

from streams import topics
from streams.app import Wiring
from streams.outcomes import Aggregate, ingest_message

BATCH_MAX = 5000
BATCH_WITHIN_S = 0.1


def register(w: Wiring) -> None:
    """Attach the ingest agent to the app."""
    m = w.metrics
    n = w.cfg.settings.partitions  # fixed for the worker's life (streams.reloading)
    # Newest accepted event time per service (all of a service's outcomes share a partition).
    # In memory: after a restart lateness is judged from the first events seen again.
    watermarks: dict[str, float] = {}
    tp = w.throughput

    @w.app.agent(w.outcomes, name="ingest")
    async def ingest(stream: Any) -> None:
        async for events in stream.take_events(BATCH_MAX, within=BATCH_WITHIN_S):
            now = time.time()
            cfg = w.cfg  # read per batch: a reload swaps it
            per_partition: dict[int, Aggregate] = {}
            for ev in events:
                msg = ev.message
                agg = per_partition.setdefault(msg.partition, Aggregate())
                raw = ev.value or b""
                for rej in ingest_message(raw, cfg, now, agg, watermarks, msg.offset):
                    m.events_rejected.labels(rej.reason).inc()
                    tp.rejected[rej.reason] = tp.rejected.get(rej.reason, 0) + 1
                    tp.outcomes += 1
                    await w.outcomes_dlq.send(key=msg.key, value=rej.dlq_record())
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
