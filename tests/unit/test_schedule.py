"""An SLO is evaluated when a record landed in it, or once per cell of its clock; quiet SLOs
spread their evaluations over the cell (streams.core.schedule)."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from streams.core.schedule import Due

T0 = 1_795_514_400


def test_a_quiet_slo_is_due_once_per_cell() -> None:
    due = Due(10)
    hits = [t for t in range(T0, T0 + 60) if due.due("api:success_rate", t, changed=False)]
    assert hits[0] == T0 and len(hits) in (6, 7)  # the first, then each cell it enters
    assert all(b - a == 10 for a, b in pairwise(hits[1:]))


def test_a_record_makes_it_due_at_once() -> None:
    due = Due(10)
    assert due.due("api:success_rate", T0, changed=False)
    assert not due.due("api:success_rate", T0 + 0.5, changed=False)
    assert due.due("api:success_rate", T0 + 0.5, changed=True)


def test_forget_makes_every_slo_due() -> None:
    due = Due(10)
    ids = [f"svc-{i}:success_rate" for i in range(20)]
    assert all(due.due(i, T0, False) for i in ids)
    due.forget()
    assert all(due.due(i, T0, False) for i in ids)


def test_a_quiet_fleet_spreads_over_the_cell() -> None:
    due = Due(10)
    ids = [f"svc-{i:04d}:success_rate" for i in range(10_000)]
    for i in ids:
        due.due(i, T0, False)
    per_second = [sum(due.due(i, T0 + s, False) for i in ids) for s in range(1, 11)]
    assert sum(per_second) == 10_000  # each once in the next cell of time
    assert max(per_second) < 1_300  # about a tenth per second, not all in one tick


@given(st.lists(st.floats(min_value=0, max_value=120), min_size=1, max_size=50))
def test_never_more_than_one_cell_without_an_evaluation(steps: list[float]) -> None:
    due = Due(10)
    t, last = float(T0), float(T0)
    assert due.due("api:latency", t, False)
    for step in sorted(steps):
        t = T0 + step
        if due.due("api:latency", t, False):
            last = t
        assert t - last < 10
