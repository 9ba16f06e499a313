"""A quiet SLO is not evaluated again before its answer can change (streams.state.quiet): on
random sparse streams, evaluating only when a record landed or the held time came gives,
at every tick, exactly the status evaluating every tick gives (windows, budget, rule states,
exhaustion), with rolling and calendar windows, a rule that holds its resolve, a timeslice
SLO and recurring exclusions."""

from __future__ import annotations

import math
from dataclasses import replace
from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.core.exclusions import Exclusion
from streams.core.slo import SLO, AlertRule, workbook_rules
from streams.core.slo_math import SloStatus
from streams.state.buckets import BucketStore
from streams.state.evaluation import Evaluator
from streams.state.quiet import next_change
from streams.state.sli_record import SliRecord

T0 = 1_790_000_000  # 2026-09-21
HOLD = AlertRule("held_page", "page", 3600, 300, Fraction("14.4"), resolve_after_s=900)
BASE = SLO(
    id="svc:success_rate",
    service="svc",
    sli_type="success_rate",
    target=Fraction("0.99"),
    window_days=7,
    alerts=(*workbook_rules(), HOLD),
)
SLOS = [
    BASE,
    replace(BASE, window_days=None, calendar="month", timezone="Europe/Berlin"),
    replace(BASE, timeslice_s=300, timeslice_target=Fraction("0.95")),
]
WEEKLY = Exclusion(
    id="w",
    kind="maintenance",
    matchers={"service": "svc"},
    starts_at=T0 + 7200,
    ends_at=T0 + 9000,
    created_by="ops",
    comment="weekly patching",
    created_at=T0,
    rrule="FREQ=DAILY;INTERVAL=2",
    timezone="Europe/Berlin",
)


def shown(s: SloStatus) -> tuple:
    return (
        s.t,
        tuple((w, c.bad, c.total) for w, c in sorted(s.windows.items())),
        (s.slo_window.bad, s.slo_window.total),
        s.budget,
        tuple((r.rule.name, r.long_burn, r.short_burn, r.condition, r.state) for r in s.rules),
        s.exhausted_since,
        tuple(sorted(s.time_to_exhaustion_s.items())),
    )


def run(slo: SLO, events: list[tuple[int, int, int]], ticks: list[int], skip: bool) -> list:
    store = BucketStore({}, 10, {slo.id: (slo.timeslice_s, slo.timeslice_target)}
                        if slo.timeslice_s else None)  # fmt: skip
    ev = Evaluator(store, {}, 300)
    ev.exclusions = [WEEKLY]
    out, last, hold, i = [], None, -math.inf, 0
    for t in ticks:
        landed = []
        while i < len(events) and events[i][0] <= t:
            ts, bad, total = events[i]
            landed.append(SliRecord(slo.id, [(i, ts, bad, total)], ts, "0"))
            i += 1
        store.apply(landed)
        changed = store.changed(slo.id)
        if skip and last is not None and not changed and t < hold:
            status = replace(last, t=t)
        else:
            status, _ = ev.evaluate(slo, t)
            # as the worker: no hold after an evaluation a record caused
            hold = -math.inf if changed else next_change(store, status, t - slo.base_horizon_s, 300)
        last = status
        out.append(shown(status))
    return out


@st.composite
def streams_(draw: st.DrawFn) -> tuple[SLO, list[tuple[int, int, int]], list[int]]:
    slo = draw(st.sampled_from(SLOS))
    events, t = [], T0
    for _ in range(draw(st.integers(1, 25))):
        t += draw(st.sampled_from([1, 10, 60, 600, 3600, 6 * 3600, 2 * 86400]))
        burst = draw(st.integers(1, 30))
        for k in range(burst):
            total = draw(st.integers(1, 50))
            events.append((t + 10 * k, draw(st.integers(0, total)), total))
    ticks, t = [], T0
    end = events[-1][0] + draw(st.sampled_from([600, 86400, 8 * 86400, 40 * 86400]))
    while t < end and len(ticks) < 400:
        t += draw(st.sampled_from([7, 10, 300, 900, 3600, 5 * 3600, 86400]))
        ticks.append(t)
    return slo, sorted(events), ticks


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams_())
def test_holding_a_quiet_slo_gives_every_tick_the_status_evaluating_gives(case: tuple) -> None:
    slo, events, ticks = case
    assert run(slo, events, ticks, skip=True) == run(slo, events, ticks, skip=False)


def test_a_quiet_slo_is_held_until_its_oldest_events_leave_the_shortest_window() -> None:
    store = BucketStore({}, 10)
    store.apply([SliRecord(BASE.id, [(1, T0, 0, 100)], T0, "0")])
    ev = Evaluator(store, {}, 300)
    status, _ = ev.evaluate(BASE, T0 + 5)
    assert next_change(store, status, T0 + 5 - BASE.base_horizon_s, 300) == T0 + 300
    store.apply([SliRecord(BASE.id, [(2, T0 + 3, 100, 100)], T0 + 3, "0")])
    status, _ = ev.evaluate(BASE, T0 + 5)  # the 5m/1h page fires: due every cell
    assert next_change(store, status, T0 + 5 - BASE.base_horizon_s, 300) == T0 + 5
