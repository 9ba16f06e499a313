"""Window agent: SLI records -> event-time buckets in the changelog-backed table.

Records are applied through BucketStore, which writes each touched block once per batch and
skips contributions whose source offset the block has already applied.
"""

from __future__ import annotations

import time
from typing import Any

from streams.app import Wiring
from streams.clocks import SloClock
from streams.models import SliRecord

BATCH_MAX = 2000
BATCH_WITHIN_S = 0.1


def register(w: Wiring) -> None:
    """Attach the window agent to the app."""

    @w.app.agent(w.sli, name="windows")
    async def windows(stream: Any) -> None:
        async for events in stream.take_events(BATCH_MAX, within=BATCH_WITHIN_S):
            now = time.time()
            records = [SliRecord.from_bytes(ev.value) for ev in events]
            # Asked per batch, not cached: the marks must be judged against the broker these
            # records came from, and a restart can replace it between two batches.
            incarnation = await w.broker_watch.incarnation()
            skipped = w.buckets.apply(records, incarnation)
            if skipped:
                w.metrics.sli_contributions_skipped.inc(skipped)
            w.throughput.sli_applied += len(records)
            for rec in records:
                clock = w.clocks.get(rec.slo)
                if clock is None:
                    w.clocks[rec.slo] = SloClock(rec.newest_ts, now)
                else:
                    clock.observe(rec.newest_ts, now)
