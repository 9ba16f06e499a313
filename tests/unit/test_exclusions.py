"""Maintenance windows and corrections: cells they overlap leave every window and the budget,
retroactively, and exactly."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core.exclusions import Exclusion, ExclusionRequest, exclusion_json, read_exclusions
from streams.core.silences import Matchers
from streams.core.slo_math import Counts
from streams.state.blocks import ROLLUP_S, floor_to
from streams.state.buckets import BucketStore
from streams.state.evaluation import Evaluator
from streams.state.sli_record import SliRecord
from tests.unit.test_slo_math import slo_999

T0 = 1_800_000_000
CHECKOUT = slo_999()
RULES = sorted(r.name for r in CHECKOUT.alerts)


def exclusion(start: float, end: float) -> Exclusion:
    return ExclusionRequest(
        matchers=Matchers(slo=CHECKOUT.id), starts_at=start, ends_at=end, comment="deploy"
    ).exclusion("oncall", T0)


def test_an_exclusion_added_after_the_fact_clears_the_alerts_its_events_caused() -> None:
    store = BucketStore({}, 10)
    ev = Evaluator(store, {}, 300)
    # 6 h healthy, then 10 minutes all failing: every Workbook rule fires.
    for offset, ts in enumerate(range(T0 - 6 * 3600, T0 + 600, 10)):
        bad = 60 if ts >= T0 else 0
        store.apply([SliRecord(CHECKOUT.id, [(offset, ts, bad, 60)], ts, "0")])
    st, events = ev.evaluate(CHECKOUT, T0 + 599)
    assert sorted(e.rule for e in events if e.state == "firing") == RULES
    assert st.slo_window.bad == 3600
    ev.exclusions = [exclusion(T0, T0 + 600)]
    st, events = ev.evaluate(CHECKOUT, T0 + 600)
    assert sorted(e.rule for e in events if e.state == "resolved") == RULES
    assert st.slo_window.bad == 0 and st.budget.remaining == 1.0
    assert st.slo_window.total == 6 * 360 * 60  # the healthy 6 hours stay
    # Deleted, it counts again.
    ev.exclusions = [ev.exclusions[0].model_copy(update={"deleted_at": T0 + 700})]
    st, events = ev.evaluate(CHECKOUT, T0 + 601)
    assert st.slo_window.bad == 3600
    assert sorted(e.rule for e in events if e.state == "firing") == RULES


@settings(max_examples=150, deadline=None)
@given(
    cells=st.lists(
        st.tuples(st.integers(0, 2000), st.integers(0, 3), st.integers(0, 3)), max_size=60
    ),
    spans=st.lists(st.tuples(st.integers(0, 20000), st.integers(1, 5000)), min_size=1, max_size=3),
    t_off=st.integers(0, 20000),
)
def test_windows_lose_exactly_the_cells_an_exclusion_overlaps(
    cells: list[tuple[int, int, int]], spans: list[tuple[int, int]], t_off: int
) -> None:
    store = BucketStore({}, 10)
    ev = Evaluator(store, {}, 300)
    applied = []
    for i, (slot, bad, good) in enumerate(cells):
        ts = T0 + slot * 10
        store.apply([SliRecord(CHECKOUT.id, [(i, ts, bad, bad + good)], ts, "0")])
        applied.append((ts, bad, bad + good))
    ev.exclusions = [exclusion(T0 + a + 0.5, T0 + a + n) for a, n in spans]
    t = T0 + t_off
    window_counts, budget, _ = ev.counts(CHECKOUT, t)

    def brute(lo: float, res: int) -> Counts:
        def out(ts: float) -> bool:
            c = floor_to(ts, res)
            return any(c < T0 + a + n and c + res > T0 + a + 0.5 for a, n in spans)

        kept = [(b, n) for ts, b, n in applied if lo < floor_to(ts, res) <= t and not out(ts)]
        return Counts(sum(b for b, _ in kept), sum(n for _, n in kept))

    for w in CHECKOUT.windows_s:
        res = 10 if w <= CHECKOUT.base_horizon_s else ROLLUP_S
        assert window_counts(w) == brute(t - w, res), w
    assert budget == brute(t - 30 * 86400, ROLLUP_S)


def test_exclusions_saved_from_the_api_read_back_for_a_replay(tmp_path: Path) -> None:
    e = exclusion(T0, T0 + 600)
    path = tmp_path / "exclusions.json"
    path.write_bytes(orjson.dumps({"exclusions": [exclusion_json(e)]}))
    assert read_exclusions(path) == [e]
    path.write_text("{}")
    with pytest.raises(ValueError, match="GET /v1/exclusions"):
        read_exclusions(path)


@pytest.mark.parametrize(
    ("matchers", "end", "error"),
    [
        ({"slo": "x"}, T0, "after"),
        ({"severity": "page"}, T0 + 1, "not severity"),
        ({}, T0 + 1, "at least one"),
    ],
)
def test_bad_requests_say_what_is_wrong(matchers: dict[str, str], end: int, error: str) -> None:
    body = {"matchers": matchers, "starts_at": T0, "ends_at": end, "comment": "c"}
    with pytest.raises(ValueError, match=error):
        ExclusionRequest.model_validate(body)
