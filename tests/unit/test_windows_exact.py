"""Every window the evaluator computes equals a brute-force sum over the raw events.

Streams are random, evaluated at increasing event times with late events landing inside windows,
around roll-up and hour boundaries, month ends, leap days and DST changes of the zone. Counts are
integers, so "equal" is exact (stronger than the 1e-12 relative the burn rates need).
"""

from __future__ import annotations

from datetime import datetime
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.core.slo import SLO, workbook_rules
from streams.core.slo_math import Counts, burn_rate
from streams.state.blocks import ROLLUP_S, floor_to
from streams.state.buckets import BucketStore
from streams.state.evaluation import Evaluator
from streams.state.sli_record import SliRecord

BUCKET_S = 10
LATENESS_S = 300

# Instants (UTC) around which the streams are placed, with the zone that makes them interesting.
ANCHORS = [
    (datetime(2028, 2, 29, 23, 0, tzinfo=ZoneInfo("UTC")), "UTC"),  # leap day into March
    (datetime(2026, 3, 29, 0, 30, tzinfo=ZoneInfo("UTC")), "Europe/Berlin"),  # spring forward
    (datetime(2026, 10, 25, 0, 30, tzinfo=ZoneInfo("UTC")), "Europe/Berlin"),  # fall back
    (datetime(2026, 11, 1, 5, 0, tzinfo=ZoneInfo("UTC")), "America/New_York"),
    (datetime(2026, 4, 4, 14, 30, tzinfo=ZoneInfo("UTC")), "Australia/Lord_Howe"),  # 30-min DST
    (datetime(2026, 11, 30, 18, 0, tzinfo=ZoneInfo("UTC")), "Asia/Kathmandu"),  # +05:45
    (datetime(2026, 12, 31, 20, 0, tzinfo=ZoneInfo("UTC")), "Asia/Kolkata"),  # +05:30, new year
]


def month_start_brute(t: float, tz: str) -> int:
    """Local midnight on the 1st, built from the calendar date (not by replace())."""
    local = datetime.fromtimestamp(t, ZoneInfo(tz))
    return int(datetime(local.year, local.month, 1, tzinfo=ZoneInfo(tz)).timestamp())


def week_start_brute(t: float, tz: str) -> int:
    """Local midnight of the latest Monday, found by stepping back a day at a time."""
    zone = ZoneInfo(tz)
    d = datetime.fromtimestamp(t, zone).date()
    while d.weekday() != 0:
        d = d.fromordinal(d.toordinal() - 1)
    return int(datetime(d.year, d.month, d.day, tzinfo=zone).timestamp())


def brute(events: list[tuple[float, int, int]], lo: float, hi: float, res: int) -> Counts:
    bad = sum(b for ts, b, _ in events if lo < floor_to(ts, res) <= hi)
    total = sum(n for ts, _, n in events if lo < floor_to(ts, res) <= hi)
    return Counts(bad, total)


def slo_for(calendar: str | None, tz: str, slicing: tuple[int, str] | None = None) -> SLO:
    return SLO(
        id="svc:success_rate",
        service="svc",
        sli_type="success_rate",
        target=Fraction("0.999"),
        window_days=None if calendar else 30,
        alerts=workbook_rules(),
        calendar=calendar,  # type: ignore[arg-type]
        timezone=tz,
        timeslice_s=slicing[0] if slicing else None,
        timeslice_target=Fraction(slicing[1]) if slicing else None,
    )


def bad_slices_brute(
    events: list[tuple[float, int, int]], length: int, target: Fraction, lo: float, hi: float
) -> int:
    """Bad slices (good ratio below target) whose 15-minute cell starts in (lo, hi]."""
    per: dict[int, list[int]] = {}
    for ts, bad, total in events:
        cell = per.setdefault(floor_to(ts, length), [0, 0])
        cell[0] += bad
        cell[1] += total
    return sum(
        1
        for start, (bad, total) in per.items()
        if total and Fraction(total - bad, total) < target and lo < floor_to(start, ROLLUP_S) <= hi
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    anchor=st.sampled_from(ANCHORS),
    calendar=st.sampled_from([None, "month", "week"]),
    steps=st.lists(
        st.tuples(
            st.integers(1, 40 * 3600),  # event-time step to the next evaluation, seconds
            st.lists(  # events up to that time: (offset back from t, bad, total - bad)
                st.tuples(
                    st.floats(0, 3600, allow_nan=False), st.integers(0, 5), st.integers(0, 5)
                ),
                max_size=6,
            ),
            st.lists(  # late events, within the allowed lateness of t
                st.tuples(st.floats(0, LATENESS_S, allow_nan=False), st.integers(0, 3)),
                max_size=2,
            ),
        ),
        min_size=1,
        max_size=40,
    ),
    start_back_days=st.integers(0, 35),
    slicing=st.sampled_from([None, (60, "0.9"), (300, "0.5")]),
)
def test_every_window_and_the_budget_window_equal_brute_force(
    anchor: tuple[datetime, str],
    calendar: str | None,
    steps: list[tuple[int, list[tuple[float, int, int]], list[tuple[float, int]]]],
    start_back_days: int,
    slicing: tuple[int, str] | None,
) -> None:
    at, tz = anchor
    slo = slo_for(calendar, tz, slicing)
    store = BucketStore(
        {}, BUCKET_S, {slo.id: (slicing[0], Fraction(slicing[1]))} if slicing else {}
    )
    ev = Evaluator(store, {}, LATENESS_S)
    applied: list[tuple[float, int, int]] = []
    t = at.timestamp() - start_back_days * 86400
    offset = 0
    for step, fresh, late in steps:
        prev_t, t = t, t + step
        batch = [(max(prev_t, t - back), bad, bad + good) for back, bad, good in fresh]
        batch += [(t - back, bad, bad + 1) for back, bad in late]
        for ts, bad, total in batch:
            offset += 1
            store.apply(
                [SliRecord(slo.id, [(offset, floor_to(ts, BUCKET_S), bad, total)], ts, "0")]
            )
            applied.append((ts, bad, total))
        window_counts, budget_c, length = ev.counts(slo, t)
        for w in slo.windows_s:
            # Windows up to a day (the Workbook's 1d ticket window too) are exact to the 10-s
            # bucket, longer ones to the 15-minute roll-up cell.
            expected = brute(applied, t - w, t, BUCKET_S if w <= 86400 else ROLLUP_S)
            assert window_counts(w) == expected, (w, t)
            ratio = expected.bad / expected.total / 0.001 if expected.total else 0.0
            assert burn_rate(window_counts(w), slo.target) == pytest.approx(ratio, rel=1e-12)
        if calendar is None:
            lo = t - 30 * 86400
            assert length == 30 * 86400
        else:
            start = (month_start_brute if calendar == "month" else week_start_brute)(t, tz)
            lo = start - 1
        if slicing is None:
            assert budget_c == brute(applied, lo, t, ROLLUP_S), (lo, t)
        else:
            bad = bad_slices_brute(applied, slicing[0], Fraction(slicing[1]), lo, t)
            assert budget_c == Counts(bad, length // slicing[0]), (lo, t)
        ev._maintain(slo, t)  # compaction and expiry as the worker runs them


def test_dst_week_is_an_hour_shorter_in_spring_and_longer_in_autumn() -> None:
    slo = slo_for("week", "Europe/Berlin")
    ev = Evaluator(BucketStore({}, BUCKET_S), {}, LATENESS_S)
    spring = datetime(2026, 3, 27, 12, tzinfo=ZoneInfo("UTC")).timestamp()
    autumn = datetime(2026, 10, 23, 12, tzinfo=ZoneInfo("UTC")).timestamp()
    assert ev.counts(slo, spring)[2] == 7 * 86400 - 3600
    assert ev.counts(slo, autumn)[2] == 7 * 86400 + 3600


def test_leap_february_is_29_days() -> None:
    slo = slo_for("month", "UTC")
    ev = Evaluator(BucketStore({}, BUCKET_S), {}, LATENESS_S)
    assert ev.counts(slo, datetime(2028, 2, 15, tzinfo=ZoneInfo("UTC")).timestamp())[2] == (
        29 * 86400
    )


def test_windows_up_to_a_day_count_10_s_buckets_and_3_days_15_minute_cells() -> None:
    slo = slo_for(None, "UTC")
    store = BucketStore({}, BUCKET_S)
    ev = Evaluator(store, {}, LATENESS_S)
    t = 1_800_000_000.0 + 3 * 86400 + 5 * 60  # 5 minutes into a 15-minute cell
    # Two minutes past the 3d and 1d edges: inside both windows by 10-s buckets; by roll-up
    # cell, the 3d window's oldest cell starts 10 minutes past its edge, so it falls out. The
    # 1d window used to count roll-up cells too, and lost its edge the same way.
    for offset, ts in enumerate((t - 3 * 86400 + 120, t - 86400 + 120)):
        store.apply([SliRecord(slo.id, [(offset, floor_to(ts, BUCKET_S), 1, 1)], ts, "0")])
    window_counts, _, _ = ev.counts(slo, t)
    assert slo.base_horizon_s == 86400
    assert window_counts(86400) == Counts(1, 1)
    assert window_counts(3 * 86400) == Counts(1, 1)  # the 1d event; the edge one is out
    assert brute([(t - 3 * 86400 + 120, 1, 1)], t - 3 * 86400, t, BUCKET_S) == Counts(1, 1)
