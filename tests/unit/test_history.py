"""An SLO's history read back from the store equals what the evaluator reads at each time:
burn rates per window (so the chart's last point is the status the API shows), and per-step
counts equal brute-force sums of the events with excluded cells left out."""

from __future__ import annotations

import random

import pytest

from streams.core.exclusions import Exclusion
from streams.state.blocks import ROLLUP_S, floor_to
from streams.state.buckets import BucketStore
from streams.state.evaluation import Evaluator
from streams.state.history import POINTS_MAX, history, step_for
from streams.state.sli_record import SliRecord
from tests.unit.test_slo_math import slo_999

T_END = 1_800_000_000.0
SLO_ = slo_999()
MAINTENANCE = Exclusion(
    id="m1",
    kind="maintenance",
    matchers={"service": "checkout-api"},
    starts_at=T_END - 5 * 3600 - 1234,
    ends_at=T_END - 4 * 3600,
    created_by="ops",
    comment="db upgrade",
    created_at=T_END - 86400,
)


def stored(seed: int) -> tuple[BucketStore, list[tuple[float, int, int]]]:
    """Three days of events, bursts of errors among them, applied to a fresh store."""
    rng = random.Random(seed)
    events = []
    for i in range(3 * 864):
        ts = T_END - 3 * 86400 + i * 300 + rng.uniform(0, 299)
        burst = rng.random() < 0.05
        total = rng.randint(1, 40)
        events.append((ts, rng.randint(0, total) if burst else 0, total))
    store = BucketStore({}, 10)
    records = [
        SliRecord(SLO_.id, [(i, int(ts), b, n)], ts, "0") for i, (ts, b, n) in enumerate(events)
    ]
    store.apply(records)
    return store, events


@pytest.mark.parametrize("range_s", [3600, 6 * 3600, 86400, 3 * 86400])
@pytest.mark.parametrize("seed", [1, 2])
def test_each_point_reads_what_the_evaluator_reads_then(range_s: int, seed: int) -> None:
    store, _ = stored(seed)
    points = history(store, [MAINTENANCE], SLO_, T_END, range_s)
    assert len(points) <= POINTS_MAX + 1
    assert points[-1].at == T_END
    step = step_for(SLO_, range_s, 10)
    assert [p.at for p in points] == [T_END - k * step for k in range(len(points) - 1, -1, -1)]
    for p in points[:: max(1, len(points) // 6)] + points[-1:]:
        ev = Evaluator(store, {}, 300)
        ev.exclusions = [MAINTENANCE]
        st, _ = ev.evaluate(SLO_, p.at)
        for w in SLO_.windows_s:
            # base cells back to T_END's base horizon, roll-ups before: the live evaluator
            # at p.at would use base cells for the same windows only when p.at is T_END.
            if p.at == T_END or p.at - w >= T_END - SLO_.base_horizon_s:
                assert p.burn[w] == pytest.approx(st.burn(w), rel=1e-12, abs=1e-12), (p.at, w)


def test_step_counts_leave_out_the_excluded_cells() -> None:
    store, events = stored(3)
    points = history(store, [MAINTENANCE], SLO_, T_END, 6 * 3600)
    step = step_for(SLO_, 6 * 3600, 10)
    lo_x, hi_x = floor_to(MAINTENANCE.starts_at, 10), MAINTENANCE.ends_at
    for p in points:
        kept = [
            (b, n)
            for ts, b, n in events
            if p.at - step < floor_to(ts, 10) <= p.at and not lo_x <= floor_to(ts, 10) < hi_x
        ]
        assert (p.bad, p.total) == (sum(b for b, _ in kept), sum(n for _, n in kept)), p.at
    assert any(p.total == 0 for p in points)  # the maintenance hour shows as a gap


def test_long_ranges_step_in_rollups_and_windows_past_storage_have_no_value() -> None:
    store, _ = stored(4)
    points = history(store, [], SLO_, T_END, SLO_.retention_s)
    assert step_for(SLO_, SLO_.retention_s, 10) % ROLLUP_S == 0
    oldest = points[0]
    assert all(b is None for w, b in oldest.burn.items() if w > 0)
    assert all(b is not None for b in points[-1].burn.values())
