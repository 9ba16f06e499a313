"""The SRE Workbook numbers for a 99.9 % SLO, pinned to the bucket, through the same bucket store
and evaluator the worker runs."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.core.slo import SLO, AlertRule, workbook_rules
from streams.core.slo_math import (
    AlertState,
    Counts,
    budget,
    burn_exceeds,
    burn_rate,
    evaluate_slo,
    step_alert,
)
from streams.state.buckets import BucketStore
from streams.state.evaluation import Evaluator
from streams.state.sli_record import SliRecord

T0 = 1_800_000_000  # outage start, aligned to the hour
PER_BUCKET = 1000


def slo_999() -> SLO:
    return SLO(
        id="checkout-api:success_rate",
        service="checkout-api",
        sli_type="success_rate",
        target=Fraction("0.999"),
        window_days=30,
        alerts=workbook_rules(),
    )


class Timeline:
    """Feeds one bucket at a time and evaluates after each, recording transitions."""

    def __init__(self, slo: SLO, bucket_s: int) -> None:
        self.slo, self.bucket_s = slo, bucket_s
        self.store = BucketStore({}, bucket_s)
        self.evaluator = Evaluator(self.store, {}, lateness_s=300)
        self.offset = 0
        self.events: list[tuple[int, str, str]] = []  # (t, rule, firing|resolved)

    def feed(self, start: int, end: int, bad: int, total: int, evaluate: bool = True) -> None:
        for t in range(start, end, self.bucket_s):
            self.offset += 1
            self.store.apply([SliRecord(self.slo.id, [(self.offset, t, bad, total)], t, "0")])
            if evaluate:
                self.evaluate(t)

    def evaluate(self, t: int) -> None:
        _, events = self.evaluator.evaluate(self.slo, t)
        self.events += [(t, ev.rule, ev.state) for ev in events]

    def first(self, rule: str, state: str = "firing") -> int | None:
        return next((t for t, r, s in self.events if r == rule and s == state), None)

    def count(self, rule: str, state: str = "firing") -> int:
        return sum(1 for _, r, s in self.events if r == rule and s == state)


def test_page_fires_in_the_bucket_where_0_864_minutes_of_total_outage_have_passed() -> None:
    # burn(1h) > 14.4 needs > 1.44 % of an hour bad: 51.84 s of a total outage. With 10-s
    # buckets the 6th outage bucket (start T0+50, holding second 51.84) is the first that counts.
    tl = Timeline(slo_999(), 10)
    tl.feed(T0 - 2 * 3600, T0, 0, PER_BUCKET, evaluate=False)
    tl.feed(T0, T0 + 300, PER_BUCKET, PER_BUCKET)
    assert tl.first("page_1h_5m") == T0 + 50
    assert tl.count("page_1h_5m") == 1


def test_page_fires_at_second_52_with_one_second_buckets_not_before() -> None:
    tl = Timeline(slo_999(), 1)
    tl.feed(T0 - 3600, T0, 0, 100, evaluate=False)
    tl.feed(T0, T0 + 120, 100, 100)
    # At T0+50 the window holds 51 bad seconds (< 51.84); at T0+51 it holds 52.
    assert tl.first("page_1h_5m") == T0 + 51


def test_page_resolves_at_first_evaluation_where_short_window_burn_drops_to_14_4() -> None:
    tl = Timeline(slo_999(), 10)
    tl.feed(T0 - 2 * 3600, T0, 0, PER_BUCKET, evaluate=False)
    tl.feed(T0, T0 + 120, PER_BUCKET, PER_BUCKET)  # 12 bad buckets
    tl.feed(T0 + 120, T0 + 900, 0, PER_BUCKET)
    # burn(5m) = bad buckets in window / 30 / 0.001 <= 14.4 once at most 0 bad buckets remain
    # (1/30 = 3.3 % > 1.44 %): the last bad bucket T0+110 leaves the 5m window at T0+410.
    assert tl.first("page_1h_5m", "resolved") == T0 + 410
    assert tl.count("page_1h_5m") == 1
    assert tl.count("page_1h_5m", "resolved") == 1


@pytest.fixture(scope="module")
def steady_burn_12() -> Timeline:
    # A day of clean traffic, then 1.2 % errors (burn 12) for 8 hours.
    tl = Timeline(slo_999(), 10)
    tl.feed(T0 - 86400, T0, 0, PER_BUCKET, evaluate=False)
    tl.feed(T0, T0 + 8 * 3600, 12, PER_BUCKET)
    return tl


def test_burn_12_never_fires_the_1h_5m_page(steady_burn_12: Timeline) -> None:
    assert steady_burn_12.count("page_1h_5m") == 0


def test_burn_12_fires_the_6h_30m_page_once_3_hours_have_passed(steady_burn_12: Timeline) -> None:
    # burn(6h) = 12 * elapsed / 6h > 6 <=> elapsed > 3h: 1081 bad buckets, i.e. the bucket
    # starting exactly at T0+3h. At T0+3h-10s the burn is exactly 6.0: not above, no page.
    assert steady_burn_12.first("page_6h_30m") == T0 + 3 * 3600
    assert steady_burn_12.count("page_6h_30m") == 1


def test_burn_12_fires_the_1d_2h_ticket_once_6_hours_have_passed(steady_burn_12: Timeline) -> None:
    # burn(1d) = 12 * elapsed / 24h > 3 <=> elapsed > 6h.
    assert steady_burn_12.first("ticket_1d_2h") == T0 + 6 * 3600
    assert steady_burn_12.count("ticket_1d_2h") == 1


def test_burn_exactly_at_threshold_does_not_fire() -> None:
    # 6 bad of 1000 on a 99.9 % SLO is burn 6.0 exactly; floats would say 6.000000000000001.
    assert not burn_exceeds(Counts(6, 1000), Fraction("0.999"), Fraction(6))
    assert burn_exceeds(Counts(6001, 1_000_000), Fraction("0.999"), Fraction(6))


def test_no_traffic_is_burn_zero_and_never_fires() -> None:
    assert burn_rate(Counts(0, 0), Fraction("0.999")) == 0.0
    assert not burn_exceeds(Counts(0, 0), Fraction("0.999"), Fraction(1))


def test_budget_remaining_is_negative_when_overspent() -> None:
    assert budget(Counts(0, 0), Fraction("0.999")).remaining == 1.0
    assert budget(Counts(1, 1000), Fraction("0.999")).remaining == pytest.approx(0.0)
    b = budget(Counts(3, 1000), Fraction("0.999"))
    assert b.consumed == pytest.approx(3.0)
    assert b.remaining == pytest.approx(-2.0)


def test_resolve_after_holds_a_rule_firing_until_it_has_been_clear_that_long() -> None:
    s = step_alert(AlertState(), True, 100, 60)
    assert s == AlertState(True, 100, None)
    s = step_alert(s, False, 110, 60)
    assert s.firing and s.cleared_at == 110
    s = step_alert(s, True, 120, 60)  # condition back: the pending resolve is cancelled
    assert s == AlertState(True, 100, None)
    s = step_alert(s, False, 130, 60)
    assert step_alert(s, False, 189, 60).firing
    assert step_alert(step_alert(s, False, 189, 60), False, 190, 60) == AlertState()


def test_without_resolve_after_a_rule_resolves_at_the_first_clear_evaluation() -> None:
    assert step_alert(AlertState(True, 100), False, 101, 0) == AlertState()


@given(
    bad=st.integers(0, 10**9),
    extra=st.integers(0, 10**9),
    target=st.sampled_from(["0.9", "0.99", "0.999", "0.9995", "0.99999"]),
    threshold=st.sampled_from(["1", "3", "6", "14.4", "0.5"]),
)
def test_burn_exceeds_agrees_with_exact_rational_burn_rate(
    bad: int, extra: int, target: str, threshold: str
) -> None:
    total = bad + extra
    expected = total > 0 and Fraction(bad, total) / (1 - Fraction(target)) > Fraction(threshold)
    assert burn_exceeds(Counts(bad, total), Fraction(target), Fraction(threshold)) == expected


def test_rule_needs_both_windows() -> None:
    slo = slo_999()
    rule = AlertRule("r", "page", 3600, 300, Fraction("14.4"))
    slo = SLO(**{**slo.__dict__, "alerts": (rule,)})
    store = BucketStore({}, 10)
    # 1h: 150 bad of 6600 (burn 22.7) but the last 5 minutes are clean: no page.
    store.apply([SliRecord(slo.id, [(1, T0, 150, 3600)], T0, "0")])
    store.apply([SliRecord(slo.id, [(2, T0 + 3000 + 10 * i, 0, 100) for i in range(30)], T0, "0")])
    t = T0 + 3290
    st_ = evaluate_slo(
        slo, t, lambda w: store.window(slo.id, t, w), store.window(slo.id, t, 86400), 86400, {}
    )
    assert st_.burn(3600) > 14.4
    assert st_.burn(300) == 0.0
    assert not st_.rules[0].condition


def test_the_sparkline_walks_the_burn_down_back_from_the_exact_remaining() -> None:
    from streams.core.slo_math import recent_burn_down

    # 90 %: 100 requests in the window allow 10 bad; 5 bad in the second of three hours.
    assert recent_burn_down([0, 5, 0], Fraction(9, 10), 100, 0.5) == [1.0, 1.0, 0.5, 0.5]
    assert recent_burn_down([0, 0], Fraction(9, 10), 0, 1.0) == [1.0, 1.0, 1.0]
    assert recent_burn_down([], Fraction(9, 10), 100, 0.25) == [0.25]
