"""Evaluator timer: every tick, each SLO this worker owns and that is due (streams.core.schedule)
is evaluated at its clock time.

The evaluation is streams.state.evaluation's (the same code replay runs); this module only
picks the SLOs this worker owns and their clock times, publishes the results and sends alert
events. A tick over thousands of SLOs takes a large part of a second of CPU, so it hands the
event loop back every YIELD_EVERY evaluations: ingest and the HTTP surface go on meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from faust.types import TP

from streams.core.clocks import SloClock
from streams.core.schedule import Due
from streams.core.slo import SLO
from streams.kafka import topics
from streams.runtime.containment import restart_in_place
from streams.runtime.wiring import Wiring
from streams.state.quiet import hold, repeated

log = logging.getLogger(__name__)

YIELD_EVERY = 50  # evaluations between two hand-backs to the event loop (about 5 ms of CPU)


STUCK_S = 120.0  # unsettled this long without recovery progress: Faust will not move on


def recovery_progress(app: Any) -> int:
    """Changelog offsets table recovery has applied so far (grows while it works)."""
    recovery = getattr(app.tables, "recovery", None)
    if recovery is None:
        return 0
    applied = (getattr(recovery, "active_offsets", {}), getattr(recovery, "standby_offsets", {}))
    return sum(v or 0 for offsets in applied for v in offsets.values())


class Stuck:
    """How long the tables have been unsettled with no recovery progress. A rebalance with a
    dead member ends within the session timeout (10 s), and a long recovery shows progress;
    two minutes of neither is a Faust state that will not end by itself (faust-streaming's
    tracker has several hangs of rebalance and recovery), and meanwhile nothing is evaluated
    and nothing pages. Restarting is exact."""

    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self.since: float | None = None
        self.progress = -1

    def observe(self, now: float, progress: int) -> None:
        if self.since is None or progress != self.progress:
            self.since, self.progress = now, progress
        elif now - self.since > self.limit_s:
            restart_in_place(f"tables unsettled for {now - self.since:.0f} s without progress")

    def clear(self) -> None:
        self.since = None


class EvaluationTick:
    """The evaluation timer's state: when Faust last rebalanced (recovery rewrites tables
    without the sliding sums' change journal, so sums are recomputed after one), which SLOs
    are due, and what made them all due last (config, exclusions)."""

    def __init__(self, w: Wiring) -> None:
        self.w = w
        self.n = w.cfg.settings.partitions
        self.seen_rebalances = w.app.rebalancing_count
        self.due = Due(w.buckets.bucket_s)
        self.seen_inputs: tuple[int, int] = (0, 0)
        self.partition_of: dict[str, TP] = {}
        self.stuck = Stuck(STUCK_S)

    def owned(self, slo: SLO, actives: object) -> bool:
        tp = self.partition_of.get(slo.id)
        if tp is None:
            tp = self.partition_of[slo.id] = TP(
                topics.SLI, topics.partition_for_slo(slo.id, self.n)
            )
        return tp in actives  # type: ignore[operator]

    def clock_of(self, slo: SLO, now: float) -> SloClock | None:
        w = self.w
        clock = w.clocks.get(slo.id)
        if clock is None:
            newest = w.buckets.newest_event(slo.id)  # after a restart: from recovered state
            if newest is None:
                return None
            clock = w.clocks[slo.id] = SloClock(newest, now)
        return clock

    async def evaluate_one(self, slo: SLO, t: float, changed: bool) -> None:
        w = self.w
        st, events = w.evaluator.evaluate(slo, t)
        for ev in events:
            await w.alerts.send(
                key=slo.id.encode(),
                value=ev.model_dump_json().encode(),
                partition=topics.partition_for_slo(slo.id, self.n),
            )
            log.info("alert %s %s %s: %s", ev.slo, ev.rule, ev.state, ev.summary)
        w.published.statuses[slo.id] = st
        w.published.fresh.add(slo.service)
        w.metrics.observe_status(st)
        if not changed:  # a record landed: likely live, due again next cell anyway
            hold(self.due, w.buckets, st, w.cfg.settings.max_future_seconds)

    async def tick(self) -> None:
        """Evaluate every due SLO this worker owns; forget the ones that moved away. Stops
        early when a rebalance begins while it has handed the loop back."""
        w = self.w
        if self.unsettled():
            return
        started = time.perf_counter()
        now = time.time()
        actives = w.app.assignor.assigned_actives()
        evaluated = 0
        for slo in w.cfg.slos:
            if not self.owned(slo, actives):
                if w.published.statuses.pop(slo.id, None) is not None:
                    w.metrics.forget_slo(slo.id)  # moved to another worker
                    w.clocks.pop(slo.id, None)
                continue
            clock = self.clock_of(slo, now)
            if clock is None:
                continue
            t, changed = clock.at(now), w.buckets.changed(slo.id)
            if not self.due.due(slo.id, t, changed):
                continue
            same = repeated(self.due, slo.id, t, changed, w.published.statuses.get(slo.id))
            if same is not None:
                w.published.statuses[slo.id] = same  # the same answer, now
                w.published.fresh.add(slo.service)
                continue
            try:
                await self.evaluate_one(slo, t, changed)
            except Exception:  # a raising timer stops the worker; one bad SLO must not
                log.exception("evaluation of %s failed; other SLOs go on", slo.id)
            evaluated += 1
            if evaluated % YIELD_EVERY == 0:
                await asyncio.sleep(0)
                if self.unsettled():
                    return
        w.metrics.evaluation_seconds.set(time.perf_counter() - started)
        self.observe_lag()

    def unsettled(self) -> bool:
        """True while tables are incomplete (never evaluate half a state); makes every SLO
        due again after what changes counts without a record."""
        w = self.w
        if w.app.rebalancing or w.app.in_recovery:
            self.stuck.observe(time.monotonic(), recovery_progress(w.app))
            return True
        self.stuck.clear()
        if w.app.rebalancing_count != self.seen_rebalances:
            # Recovery rewrote table state without the change journal: recompute sums.
            self.seen_rebalances = w.app.rebalancing_count
            w.evaluator.sums.reset()
            w.buckets.reindex()
            self.due.forget()
        inputs = (id(w.cfg), id(w.evaluator.exclusions))  # replaced, never changed in place
        if inputs != self.seen_inputs:
            self.seen_inputs = inputs
            self.due.forget()
        return False

    def observe_lag(self) -> None:
        """Unread messages per topic in this worker's partitions (from the last fetch)."""
        consumer = self.w.app.consumer
        lag: dict[str, int] = {}
        for tp in self.w.app.assignor.assigned_actives():
            try:
                hw = consumer.highwater(tp)
            except Exception:  # not fetched yet: unknown, not zero
                continue
            read = getattr(consumer, "_read_offset", {}).get(tp)  # last offset Faust read
            if hw is not None:
                lag[tp.topic] = lag.get(tp.topic, 0) + max(0, hw - (read + 1 if read else 0))
        for topic, n in lag.items():
            self.w.metrics.consumer_lag.labels(topic).set(n)


def register(w: Wiring) -> None:
    """Attach the evaluation timer to the app."""
    state = EvaluationTick(w)

    @w.app.timer(interval=w.cfg.settings.evaluation_interval_seconds, name="evaluate")
    async def evaluate() -> None:
        await state.tick()
