"""An SLO's past, read back from the bucket store: burn rate per alert window, error ratio and
request rate at evenly spaced times, for the detail page's charts and the review report.

Nothing here is kept beyond the store itself: the history reaches as far back as the SLO's
blocks do (its retention: the SLO window, or its longest alert window if longer), at base
resolution (10 s) within its base horizon (its longest window of a day or less) and at
15-minute roll-ups before that. Each point is computed as the evaluator would have computed
it then, with today's exclusions; a window reaching past what is stored has no value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from streams.core.exclusions import Exclusion, excluded, spans_for
from streams.core.slo import SLO
from streams.core.slo_math import Counts, evaluate_slo
from streams.state.blocks import ROLLUP_S
from streams.state.buckets import BucketStore
from streams.state.evaluation import window_counts

POINTS_MAX = 120  # points per chart: enough for a line's shape, cheap to compute on request


@dataclass(frozen=True)
class Point:
    """The SLO at time ``at``: counts of the step ending there, burn rate per alert window."""

    at: float
    bad: int
    total: int
    burn: dict[int, float | None]  # alert window (s) -> burn rate; None: reaches past storage


def step_for(slo: SLO, range_s: int, bucket_s: int) -> int:
    """Seconds between points: at most POINTS_MAX points, whole cells of the resolution the
    range is stored at (roll-ups once it reaches past the base horizon)."""
    cell = bucket_s if range_s <= slo.base_horizon_s else ROLLUP_S
    return max(cell, math.ceil(range_s / POINTS_MAX / cell) * cell)


def history(
    store: BucketStore, exclusions: list[Exclusion], slo: SLO, t_end: float, range_s: int
) -> list[Point]:
    """Points from ``t_end - range_s`` to ``t_end`` (the last evaluation), oldest first. The
    last point is the evaluator's own reading at ``t_end``."""
    step = step_for(slo, range_s, store.bucket_s)
    base_from = t_end - slo.base_horizon_s
    stored_from = t_end - slo.retention_s
    spans = spans_for(exclusions, slo.service, slo.id, t_end - range_s - step, t_end + ROLLUP_S)
    out = []
    for k in range(range_s // step, -1, -1):
        t = t_end - k * step
        windows, budget, length = window_counts(store, exclusions, slo, t, base_from)
        st = evaluate_slo(slo, t, windows, budget, length, {})
        res = store.bucket_s if t - step >= base_from else ROLLUP_S
        c = store.range(slo.id, t - step, t, res)
        if spans:
            c = c - excluded(store.range, slo.id, spans, t - step, t, res)
        burn = {w: st.burn(w) if t - w >= stored_from else None for w in slo.windows_s}
        out.append(Point(t, c.bad, c.total, burn))
    return out


def counts_between(
    store: BucketStore, exclusions: list[Exclusion], slo: SLO, lo: float, hi: float
) -> Counts:
    """Counts of the 15-minute cells with start in (lo, hi], exclusions left out (a report's
    period: roll-ups reach the whole retention)."""
    c = store.range(slo.id, lo, hi, ROLLUP_S)
    spans = spans_for(exclusions, slo.service, slo.id, lo, hi + ROLLUP_S)
    return c - excluded(store.range, slo.id, spans, lo, hi, ROLLUP_S) if spans else c
