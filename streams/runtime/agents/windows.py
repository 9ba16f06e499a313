"""Window agent: SLI records -> event-time buckets in the changelog-backed table.

Records are applied through BucketStore, which writes each touched block once per batch and
skips contributions whose source offset the block has already applied. Each message (records
packed per SLI partition) is decoded and checked on its own first (one that cannot be read is
dead-lettered, the batch goes on); applying the batch is not contained, since a half-applied
batch would leave the table unlike its changelog: an error there stops the worker before the
batch's offsets are committed.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from streams.core.clocks import SloClock
from streams.ingest.dead_letters import Rejection, dlq_record, internal_error
from streams.runtime import failpoints
from streams.runtime.containment import contained, source_of
from streams.runtime.wiring import Wiring
from streams.state.sli_record import SliRecord, items, record

BATCH_MAX = 2000
BATCH_WITHIN_S = 0.1


def register(w: Wiring) -> None:
    """Attach the window agent to the app."""

    @w.app.agent(w.sli, name="windows")
    @contained("windows")
    async def windows(stream: Any) -> None:
        async for events in stream.take_events(BATCH_MAX, within=BATCH_WITHIN_S):
            now = time.time()
            records: list[SliRecord] = []
            for ev in events:
                for raw, exc in read_records(ev.value or b"", records):
                    w.metrics.internal_errors.labels("windows").inc()
                    rej = Rejection("internal_error", internal_error(exc), raw)
                    await w.outcomes_dlq.send(
                        key=ev.message.key, value=dlq_record(raw, [rej], source_of(ev))
                    )
            # Asked per batch, not cached: the marks must be judged against the broker these
            # records came from, and a restart can replace it between two batches.
            incarnation = await w.broker_watch.incarnation()
            skipped = w.buckets.apply(records, incarnation)
            if skipped:
                w.metrics.sli_contributions_skipped.inc(skipped)
            w.throughput.sli_applied += len(events)
            for rec in records:
                clock = w.clocks.get(rec.slo)
                if clock is None:
                    w.clocks[rec.slo] = SloClock(rec.newest_ts, now)
                else:
                    clock.observe(rec.newest_ts, now)


def read_records(raw: bytes, into: list[SliRecord]) -> list[tuple[bytes, Exception]]:
    """Append the records of one message to ``into``; (bytes, error) of each part that
    failed. A record fails alone: the others of its pack (other SLOs of the partition) still
    count. A message that is not JSON fails whole."""
    try:
        parts = items(raw)
    except Exception as exc:  # contained: this message only
        return [(raw, exc)]
    failed: list[tuple[bytes, Exception]] = []
    armed = failpoints.armed("windows")
    for item in parts:
        # A record's own bytes only when a failpoint must see them or it failed.
        try:
            if armed:
                failpoints.check("windows", _own_bytes(raw, parts, item))
            into.append(record(item))
        except Exception as exc:  # contained: this record only
            failed.append((_own_bytes(raw, parts, item), exc))
    return failed


def _own_bytes(raw: bytes, parts: list[object], item: object) -> bytes:
    return raw if len(parts) == 1 else orjson.dumps(item)
