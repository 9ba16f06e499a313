"""Evaluator timer: every tick, each SLO this worker owns is evaluated at its clock time.

The math is slo_math's; this module only reads the tables, publishes the results, emits an
alert event on each state change and persists rule states (so a restart does not re-page).
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import asdict

from faust.types import TP

from streams import topics
from streams.app import Wiring
from streams.buckets import BLOCK_S
from streams.clocks import SloClock
from streams.config import SLO
from streams.models import AlertEvent, dedup_key
from streams.slo_math import AlertState, RuleStatus, SloStatus, evaluate_slo, transitions

log = logging.getLogger(__name__)


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
    )


def register(w: Wiring) -> None:
    """Attach the evaluation timer to the app."""
    n = w.cfg.settings.partitions
    retention_s = {
        s.id: s.window_days * 86400 + w.cfg.settings.allowed_lateness_seconds for s in w.cfg.slos
    }
    expired_through: dict[str, int] = {}

    def owned(slo: SLO) -> bool:
        actives = w.app.assignor.assigned_actives()
        return TP(topics.SLI, topics.partition_for_slo(slo.id, n)) in actives

    def clock_of(slo: SLO, now: float) -> SloClock | None:
        clock = w.clocks.get(slo.id)
        if clock is None:
            newest = w.buckets.newest_event(slo.id)  # after a restart: from recovered state
            if newest is None:
                return None
            clock = w.clocks[slo.id] = SloClock(newest, now)
        return clock

    async def evaluate_one(slo: SLO, now: float) -> None:
        clock = clock_of(slo, now)
        if clock is None:
            return
        t = clock.at(now)
        prev = {}
        for rule in slo.alerts:
            raw = w.alert_states.get(f"{slo.id}|{rule.name}")
            prev[rule.name] = AlertState(**raw) if raw else AlertState()
        st = evaluate_slo(slo, t, lambda win: w.buckets.window(slo.id, t, win), prev)
        for rs, state in transitions(prev, st):
            ev = alert_event(st, rs, state)
            await w.alerts.send(
                key=slo.id.encode(),
                value=ev.model_dump_json().encode(),
                partition=topics.partition_for_slo(slo.id, n),
            )
            log.info("alert %s %s %s: %s", ev.slo, ev.rule, ev.state, ev.summary)
        for rs in st.rules:
            if rs.state != prev[rs.rule.name]:
                w.alert_states[f"{slo.id}|{rs.rule.name}"] = asdict(rs.state)
        w.published.statuses[slo.id] = st
        w.metrics.observe_status(st)
        hour = int(t // BLOCK_S)
        if expired_through.get(slo.id) != hour:
            expired_through[slo.id] = hour
            w.buckets.expire(slo.id, t - retention_s[slo.id])

    @w.app.timer(interval=w.cfg.settings.evaluation_interval_seconds, name="evaluate")
    async def evaluate() -> None:
        if w.app.rebalancing or w.app.in_recovery:
            return  # tables are incomplete until recovery ends: never evaluate half a state
        started = time.perf_counter()
        now = time.time()
        for slo in w.cfg.slos:
            if not owned(slo):
                continue
            try:
                await evaluate_one(slo, now)
            except Exception:  # a raising timer stops the worker; one bad SLO must not
                log.exception("evaluation of %s failed; other SLOs go on", slo.id)
        w.metrics.evaluation_seconds.set(time.perf_counter() - started)
