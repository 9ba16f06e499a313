"""When an SLO's evaluation can next give another answer with no record landing in it, so a
tick need not evaluate a quiet SLO again before then (ten thousand SLOs on one worker, nine in
ten of them quiet: evaluating each once per 10-s cell was a quarter of the worker's CPU).

With no new record, an evaluation's counts change only when an edge of a window passes a cell
with events (it leaves) or the clock reaches one ahead of it (it enters); a calendar budget
window also restarts at its period's end. Every rule's state, the budget, its exhaustion
time and projections are functions of those counts, except what only time moves: a rule
firing (its resolve may wait on ``resolve_after``) or a timeslice budget, which stay due
every cell.
"""

from __future__ import annotations

import math
from dataclasses import replace

from streams.core.schedule import Due
from streams.core.slo import SLO
from streams.core.slo_math import SloStatus
from streams.state.blocks import ROLLUP_S
from streams.state.buckets import BucketStore


def next_change(store: BucketStore, st: SloStatus, base_from: float, lookahead_s: float) -> float:
    """The earliest clock time after ``st.t`` at which evaluating ``st.slo`` could answer
    differently with no new record (math.inf: never); ``st.t`` itself when time alone moves
    the answer. ``base_from`` and the resolutions are the evaluator's (``window_counts``);
    ``lookahead_s`` bounds how far ahead of the clock an event may lie."""
    slo, t = st.slo, st.t
    if slo.timeslice_s is not None or any(r.state.firing or r.condition for r in st.rules):
        return t
    base = store.bucket_s
    soon = t + base  # due again next cell anyway: no need to look further
    best = math.inf
    for w in sorted(slo.windows_s):  # short windows first: where data leaves soonest
        best = min(best, _leaves(store, slo, t - w, t, base if t - w >= base_from else ROLLUP_S, w))
        if best <= soon:
            return best
    start, length = slo.budget_window(t)
    if slo.calendar is not None:
        best = min(best, start + length)
    else:
        res = base if start >= base_from else ROLLUP_S
        best = min(best, _leaves(store, slo, start, t, res, length))
    for res in (base, ROLLUP_S):
        ahead = store.first_cell(slo.id, t, t + lookahead_s, res)
        best = min(best, math.inf if ahead is None else ahead)
    return best


def _leaves(store: BucketStore, slo: SLO, lo: float, hi: float, res: int, width: int) -> float:
    """When the oldest cell with events in (lo, hi] leaves a window ``width`` long."""
    first = store.first_cell(slo.id, lo, hi, res)
    return math.inf if first is None else first + width


def repeated(
    due: Due, slo_id: str, t: float, changed: bool, last: SloStatus | None
) -> SloStatus | None:
    """The last status at ``t`` while the SLO is held quiet (no evaluation needed), else None."""
    if last is not None and due.quiet(slo_id, t, changed):
        return replace(last, t=t)
    return None


def hold(due: Due, store: BucketStore, st: SloStatus, lookahead_s: float) -> None:
    """After an evaluation: hold the SLO quiet until its answer can next change."""
    due.hold(st.slo.id, next_change(store, st, st.t - st.slo.base_horizon_s, lookahead_s))
