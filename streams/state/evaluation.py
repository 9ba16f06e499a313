"""One evaluation step over stored buckets: shared by the worker's timer and by replay.

Holds no clock and no I/O of its own: the caller says when (event time t) and does something
with the results (publish, send alerts, write files). Rule and budget states live in a mapping
(a changelog-backed table in the worker, a dict in replay), so a restart neither re-pages nor
forgets since when the budget has been exhausted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, MutableMapping
from dataclasses import asdict
from typing import Any

from streams.core.alerts import AlertEvent, dedup_key
from streams.core.exclusions import Exclusion, excluded, spans_for
from streams.core.slo import SLO
from streams.core.slo_math import (
    AlertState,
    Counts,
    RuleStatus,
    SloStatus,
    evaluate_slo,
    transitions,
)
from streams.state.blocks import BLOCK_S, ROLLUP_S
from streams.state.buckets import BucketStore
from streams.state.sliding import SlidingSums

BUDGET_STATE = "~budget"  # state key suffix of an SLO's budget (rule names cannot start with ~)


def alert_event(st: SloStatus, rs: RuleStatus, state: str) -> AlertEvent:
    """The alert event for a rule's transition at evaluation time st.t."""
    slo, rule = st.slo, rs.rule
    key = dedup_key(slo.id, rule.name, rule.severity)
    return AlertEvent(
        id=hashlib.sha256(f"{key}|{state}|{st.t}".encode()).hexdigest()[:32],
        slo=slo.id,
        service=slo.service,
        rule=rule.name,
        severity=rule.severity,
        state="firing" if state == "firing" else "resolved",
        long_window_s=rule.long_window_s,
        short_window_s=rule.short_window_s,
        long_burn_rate=rs.long_burn,
        short_burn_rate=rs.short_burn,
        threshold=float(rule.burn),
        budget_remaining=st.budget.remaining,
        ts=st.t,
        dedup_key=key,
        time_to_exhaustion_s=min(
            (s for s in st.time_to_exhaustion_s.values() if s is not None), default=None
        ),
    )


Sums = Callable[[str, float, float, int, bool], Counts]


def window_counts(
    store: BucketStore,
    exclusions: list[Exclusion],
    slo: SLO,
    t: float,
    base_from: float,
    sums: Sums | None = None,
) -> tuple[Callable[[int], Counts], Counts, int]:
    """Window counts at t: a function of the window (seconds), the SLO-window counts and
    the SLO window's length (seconds). Windows starting at or after ``base_from`` (the oldest
    base cell kept) use base cells; older and calendar windows use 15-minute roll-ups. Cells
    an exclusion overlaps are left out. ``sums`` (name, lo, hi, res, slices) caches what the
    live evaluator asks every tick; the store's own sums otherwise (history, at any t)."""
    if sums is None:

        def sums(name: str, lo: float, hi: float, res: int, slices: bool = False) -> Counts:
            return store.range(slo.id, lo, hi, res, slices)

    start, length = slo.budget_window(t)
    # Cells with start in (oldest window start, t]: the newest ends a roll-up after t.
    reach = min(start, t - max(slo.windows_s)) - 1
    spans = spans_for(exclusions, slo.service, slo.id, reach, t + ROLLUP_S)

    def counts(name: str, lo: float, hi: float, res: int, slices: bool = False) -> Counts:
        c = sums(name, lo, hi, res, slices)
        if spans:
            c = c - excluded(store.range, slo.id, spans, lo, hi, res, slices)
        return c

    base = store.bucket_s
    windows = {
        w: counts(f"w{w}", t - w, t, base if t - w >= base_from else ROLLUP_S)
        for w in slo.windows_s
    }
    if slo.calendar is not None:
        # Cell starts are whole seconds: (start - 1, t] holds exactly those >= start.
        lo, res = start - 1, ROLLUP_S
    else:
        lo, res = start, base if start >= base_from else ROLLUP_S
    if slo.timeslice_s is not None:
        # Budget in slices: bad slices of the window over all the window's slices (a slice
        # without traffic hurt no one: it counts as good).
        bad_slices = counts("budget", lo, t, ROLLUP_S, slices=True).bad
        return windows.__getitem__, Counts(bad_slices, length // slo.timeslice_s), length
    return windows.__getitem__, counts("budget", lo, t, res), length


class Evaluator:
    """Evaluates SLOs at event times over a bucket store, persisting states in ``states``."""

    def __init__(
        self, store: BucketStore, states: MutableMapping[str, Any], lateness_s: int
    ) -> None:
        self.store = store
        self.states = states
        self.lateness_s = lateness_s
        self.sums = SlidingSums(store)
        self._maintained_hour: dict[str, int] = {}
        # Maintenance windows and corrections in force (streams.core.exclusions); the worker keeps
        # this current from the control topic, a replay sets it from a file.
        self.exclusions: list[Exclusion] = []

    def counts(self, slo: SLO, t: float) -> tuple[Callable[[int], Counts], Counts, int]:
        """Window counts at t (``window_counts``) through the evaluator's sliding sums."""
        sums = self.sums.evaluation(slo.id)
        return window_counts(self.store, self.exclusions, slo, t, t - slo.base_horizon_s, sums)

    def evaluate(self, slo: SLO, t: float) -> tuple[SloStatus, list[AlertEvent]]:
        """Evaluate ``slo`` at event time t (unix s); returns its status and alert transitions."""
        prev = {}
        for rule in slo.alerts:
            raw = self.states.get(f"{slo.id}|{rule.name}")
            prev[rule.name] = AlertState(**raw) if raw else AlertState()
        budget_key = f"{slo.id}|{BUDGET_STATE}"
        prev_budget = self.states.get(budget_key) or {}
        window_counts, budget_c, length = self.counts(slo, t)
        st = evaluate_slo(
            slo, t, window_counts, budget_c, length, prev, prev_budget.get("exhausted_since")
        )
        events = [alert_event(st, rs, state) for rs, state in transitions(prev, st)]
        for rs in st.rules:
            if rs.state != prev[rs.rule.name]:
                self.states[f"{slo.id}|{rs.rule.name}"] = asdict(rs.state)
        if st.exhausted_since != prev_budget.get("exhausted_since"):
            self.states[budget_key] = {"exhausted_since": st.exhausted_since}
        self._maintain(slo, t)
        return st, events

    def _maintain(self, slo: SLO, t: float) -> None:
        """Once per event-time hour, compact and expire what no window can reach any more.

        The lateness margin keeps cells a still-accepted late event may land in.
        """
        hour = int(t // BLOCK_S)
        if self._maintained_hour.get(slo.id) != hour:
            self._maintained_hour[slo.id] = hour
            margin = self.lateness_s + BLOCK_S
            self.store.maintain(
                slo.id,
                compact_before=t - slo.base_horizon_s - margin,
                expire_before=t - slo.retention_s - margin,
            )
