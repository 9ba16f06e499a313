"""Sink agent: alert events -> the receivers their routes name, once each.

Every (alert group, receiver) pair is its own pipeline: deliveries to one receiver never wait
for another's retries, and within a pair a trigger always goes before its resolve. Before each
send the durable notification log (a changelog-backed table) is consulted, and it is written
right after the receiver's 2xx, so a redelivered alert event, a restart or a replay never sends
twice. An alert event is acknowledged (its offset may be committed) only when all its
deliveries ended, so a `kill -9` mid-delivery leads to a redelivery that the log deduplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson
from faust.types import TP
from pydantic import ValidationError

from streams.core.alerts import AlertEvent
from streams.core.silences import silencing
from streams.ingest.dead_letters import Rejection, dlq_record, internal_error
from streams.kafka import topics
from streams.notify.delivery import AttemptOutcome, Delivery, deliver
from streams.notify.ledger import after_sent, plan, release_due, repeat_due
from streams.notify.pagerduty import pagerduty_event
from streams.notify.ratelimit import CRITICAL, OTHER, RESOLVE, Limiter
from streams.notify.routing import Target, targets
from streams.notify.slack import slack_message
from streams.runtime import failpoints, journal
from streams.runtime.containment import contained, source_of
from streams.runtime.wiring import Wiring
from streams.state.evaluation import alert_event

log = logging.getLogger(__name__)

REPEAT_CHECK_S = 1.0
RATES = {"slack": (1.0, 3.0), "pagerduty": (2.0, 2.0)}  # sends/s and burst, per endpoint


def redact(text: str, secrets: list[str]) -> str:
    """``text`` with every secret replaced; receivers sometimes echo what they were sent."""
    for s in secrets:
        if s:
            text = text.replace(s, "[redacted]")
    return text


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


class Sink:
    """The sink agent's state and steps: per-receiver rate limiters, the delivery chain of each
    (receiver, alert group) pair, the newest state seen per alert group and the HTTP session."""

    def __init__(self, w: Wiring) -> None:
        self.w = w
        self.m = w.metrics
        self.limiters: dict[str, Limiter] = {}
        self.chains: dict[tuple[str, str], asyncio.Future[None]] = {}
        self.latest: dict[str, str] = {}  # dedup key -> state of the newest event seen
        self.session: aiohttp.ClientSession | None = None
        self.acking: set[asyncio.Future[None]] = set()  # events whose deliveries are under way

    def secrets(self) -> list[str]:
        return [r.secret for r in self.w.cfg.notifications.receivers_by_name.values()]

    def links(self, ev: AlertEvent) -> dict[str, str]:
        n = self.w.cfg.notifications
        fields = {"slo": ev.slo, "service": ev.service, "rule": ev.rule}
        out = {}
        if n.dashboard_url:
            out["Dashboard"] = n.dashboard_url.format_map(fields)
        if n.runbook_url:
            out["Runbook"] = n.runbook_url.format_map(fields)
        return out

    def request(self, ev: AlertEvent, t: Target, repeat: bool) -> tuple[str, dict[str, object]]:
        summary = ev.summary_with(self.w.cfg.notifications.summary_template)
        r = t.receiver
        if r.type == "pagerduty":
            return r.events_url, pagerduty_event(
                ev, r.routing_key, summary, self.links(ev), t.escalation
            )
        return r.webhook_url, slack_message(ev, summary, self.links(ev), t.channel, repeat)

    def targets(self, ev: AlertEvent) -> list[Target]:
        """Where the routes send this alert."""
        slo = self.w.cfg.slo(ev.slo)
        return targets(self.w.cfg.notifications, slo, ev.service, ev.slo, ev.rule, ev.severity)

    async def send(self, ev: AlertEvent, t: Target, repeat: bool = False) -> bool:
        """One notification through its retries; True when the receiver accepted it."""
        assert self.session is not None
        url, body = self.request(ev, t, repeat)
        n = self.w.cfg.notifications
        limiter = self.limiters.setdefault(t.name, Limiter(*RATES[t.receiver.type]))
        priority = (
            RESOLVE if ev.state == "resolved" else CRITICAL if ev.severity == "page" else OTHER
        )

        def retrying(d: AttemptOutcome) -> None:
            self.m.notification_retries.labels(t.name).inc()
            log.warning(
                "%s: %s %s will retry in %.1fs: %s",
                t.name,
                ev.state,
                ev.dedup_key[:12],
                d.delay_s,
                redact(d.reason, self.secrets()),
            )

        result = await deliver(
            self.session,
            t.receiver.type,
            url,
            body,
            deadline_s=n.deadline_seconds,
            timeout_s=n.attempt_timeout_seconds,
            limiter=limiter,
            priority=priority,
            on_retry=retrying,
        )
        if result.delivered:
            self.m.notifications_sent.labels(t.name, ev.state).inc()
            self.m.receiver_misconfigured.labels(t.name).set(0)
            log.info(
                "%s accepted %s%s %s for %s/%s after %d attempt(s)",
                t.name,
                "repeat " if repeat else "",
                ev.state,
                ev.dedup_key[:12],
                ev.slo,
                ev.rule,
                result.attempts,
            )
            return True
        await self.failed(ev, t, result)
        return False

    async def failed(self, ev: AlertEvent, t: Target, result: Delivery) -> None:
        """A notification that gave up: counted, logged and dead-lettered with its reason."""
        secrets = self.secrets()
        reason = redact(result.reason, secrets)
        self.m.notification_failures.labels(t.name).inc()
        if result.misconfigured:
            self.m.receiver_misconfigured.labels(t.name).set(1)
            log.error("%s is misconfigured (fix its URL or key): %s", t.name, reason)
        log.error("%s: %s %s sent to the DLQ: %s", t.name, ev.state, ev.dedup_key[:12], reason)
        await self.w.notifications_dlq.send(
            key=ev.dedup_key.encode(),
            value=orjson.dumps(
                {
                    "integration": t.receiver.type,
                    "receiver": t.name,
                    "reason": reason,
                    "status": result.status,
                    "response_body": redact(result.body, secrets),
                    "attempts": result.attempts,
                    "first_attempt_at": _iso(result.first_at),
                    "last_attempt_at": _iso(result.last_at),
                    "misconfigured": result.misconfigured,
                    "alert": ev.model_dump(),
                }
            ),
        )

    def rule_firing(self, slo_id: str, rule: str) -> bool:
        state = self.w.alert_states.get(f"{slo_id}|{rule}")
        return bool(state and state.get("firing"))

    def hold(self, ev: AlertEvent, now: float) -> str | None:
        """Why a trigger of ``ev`` may not go out now, if so: a silence, or (for a ticket) a
        page of the same SLO firing, per the evaluator's current rule states."""
        w = self.w
        if silencing(w.silences.values(), ev.service, ev.slo, ev.severity, now) is not None:
            return "silenced"
        slo = w.cfg.slo(ev.slo)
        if (
            ev.severity == "ticket"
            and slo is not None
            and w.cfg.notifications.inhibit_tickets_while_paging
            and any(r.severity == "page" and self.rule_firing(slo.id, r.name) for r in slo.alerts)
        ):
            return "inhibited by a firing page"
        return None

    async def handle(self, ev: AlertEvent, t: Target, arrived: float) -> None:
        """Deliver one alert event to one target, unless the notification log says not to."""
        if ev.state == "firing" and t.group_wait_s > 0:
            await asyncio.sleep(max(0.0, arrived + t.group_wait_s - time.time()))
            if self.latest.get(ev.dedup_key) != "firing":
                self.m.notifications_skipped.labels(t.name, "resolved within group_wait").inc()
                return
        key = log_key(ev, t)
        log_ = self.w.notification_log
        p = plan(log_.get(key), ev, self.hold(ev, time.time()), t.send_resolved)
        if p.action == "skip":
            self.m.notifications_skipped.labels(t.name, p.reason).inc()
            log.info("%s: %s %s not sent: %s", t.name, ev.state, ev.dedup_key[:12], p.reason)
            if p.entry is not None:
                log_[key] = p.entry
            return
        if await self.send(ev, t):
            log_[key] = after_sent(ev, time.time())

    def chained(
        self, name: str, dedup: str, work: Coroutine[Any, Any, None]
    ) -> asyncio.Future[None]:
        """Run ``work`` after the pair's previous delivery, so a resolve never overtakes."""
        k = (name, dedup)
        prev = self.chains.get(k)

        async def run() -> None:
            if prev is not None:
                with contextlib.suppress(Exception):
                    await prev
            try:
                await work
            except Exception:  # one broken delivery must not stop the sink
                log.exception("delivery to %s failed", name)

        task = asyncio.ensure_future(run())
        self.chains[k] = task
        task.add_done_callback(
            lambda _: self.chains.pop(k, None) if self.chains.get(k) is task else None
        )
        return task

    async def dead_letter(self, event: Any, reason: str, error: str) -> None:
        raw = bytes(event.value or b"")
        where = {"agent": "sink", **source_of(event)}
        dlq = self.w.notifications_dlq
        await dlq.send(value=dlq_record(raw, [Rejection(reason, error)], where))
        event.ack()

    def dispatch(self, event: Any, ev: AlertEvent) -> None:
        """Start the deliveries of one alert event; it is acked when they all ended."""
        failpoints.check("sink", event.value or b"")
        self.latest[ev.dedup_key] = ev.state
        now = time.time()
        held = self.hold(ev, now) if ev.state == "firing" else None
        entry = {"id": ev.id, "at": ev.ts, "rule": ev.rule, "severity": ev.severity}
        journal.append(self.w.alert_states, journal.timeline_key(ev.slo),
                       {**entry, "state": ev.state, "held": held})  # fmt: skip
        tasks = [
            self.chained(t.name, ev.dedup_key, self.handle(ev, t, now)) for t in self.targets(ev)
        ]
        if not tasks:
            event.ack()
            return
        waiter = asyncio.ensure_future(_ack_when_done(event, tasks))
        self.acking.add(waiter)
        waiter.add_done_callback(self.acking.discard)

    async def consume(self, stream: Any) -> None:
        """The agent's loop: each alert event dispatched, an unreadable one dead-lettered."""
        async with aiohttp.ClientSession() as session:
            self.session = session
            async for event in stream.noack().events():
                try:
                    ev = AlertEvent.model_validate_json(event.value)
                except ValidationError as e:
                    msg = str(e.errors()[0]["msg"])
                    log.error("unreadable alert event skipped to DLQ: %s", msg)
                    await self.dead_letter(event, "invalid alert event", msg)
                    continue
                try:
                    self.dispatch(event, ev)
                except Exception as exc:  # contained: this alert event only
                    log.exception("alert event %s dead-lettered", ev.dedup_key[:12])
                    self.m.internal_errors.labels("sink").inc()
                    await self.dead_letter(event, "internal_error", internal_error(exc))

    def repeat_check(self) -> None:
        """Re-send still-firing alerts to Slack every repeat_interval (Alertmanager's
        repeat_interval; PagerDuty keeps its incident open without repeats), and deliver held
        triggers whose silence or inhibiting page has ended."""
        w = self.w
        if self.session is None or w.app.rebalancing or w.app.in_recovery:
            return
        actives = w.app.assignor.assigned_actives()
        n_partitions = w.cfg.settings.partitions
        now = time.time()
        for key, entry in list(w.notification_log.items()):
            try:
                slo_id, _, name = key.split("|")
                if TP(topics.ALERTS, topics.partition_for_slo(slo_id, n_partitions)) not in actives:
                    continue
                self.recheck(key, entry, name, now)
            except Exception:  # a raising timer stops the worker
                log.exception("repeat check of %s failed", key)

    def recheck(self, key: str, entry: dict[str, Any], name: str, now: float) -> None:
        """Release or repeat one logged notification if it is due."""
        ev = AlertEvent.model_validate(entry["event"])
        t = next((t for t in self.targets(ev) if t.name == name), None)
        if t is None or (name, ev.dedup_key) in self.chains:  # one is under way
            return
        held = self.hold(ev, now)
        if release_due(entry, held):
            if self.rule_firing(ev.slo, ev.rule):  # (its resolve may still be on the way)
                self.chained(name, ev.dedup_key, self.resend(key, ev, t, repeat=False))
        elif t.receiver.type == "slack" and repeat_due(
            entry, now, t.repeat_interval_s, held is not None
        ):
            self.chained(name, ev.dedup_key, self.resend(key, ev, t))

    async def resend(self, key: str, ev: AlertEvent, t: Target, repeat: bool = True) -> None:
        """Send a still-firing alert again (a repeat) or at last (released from a silence or
        an inhibition) with today's numbers (the burn rates and budget of the last
        evaluation, when this worker has one), under the same identity."""
        if self.hold(ev, time.time()) is not None:
            return  # silenced or inhibited since this was scheduled
        st = self.w.published.statuses.get(ev.slo)
        rs = next((r for r in st.rules if r.rule.name == ev.rule), None) if st else None
        if st is not None and rs is not None and rs.state.firing:
            ev = alert_event(st, rs, "firing")
        if await self.send(ev, t, repeat=repeat):
            self.w.notification_log[key] = after_sent(ev, time.time())


def log_key(ev: AlertEvent, t: Target) -> str:
    """The notification log's key of an (alert group, receiver) pair; its first field, the
    SLO, fixes the table partition."""
    return f"{ev.slo}|{ev.dedup_key}|{t.name}"


async def _ack_when_done(event: Any, tasks: list[asyncio.Future[None]]) -> None:
    await asyncio.gather(*tasks, return_exceptions=True)
    event.ack()


def register(w: Wiring) -> None:
    """Attach the sink agent and the repeat timer to the app."""
    notes = w.cfg.notifications
    if not notes.slack_webhook_url and "slack" not in notes.receivers:
        log.warning("slack receiver disabled: notifications.slack_webhook_url is empty")
    if not notes.pagerduty_routing_key and "pagerduty" not in notes.receivers:
        log.warning("pagerduty receiver disabled: notifications.pagerduty_routing_key is empty")
    state = Sink(w)

    @w.app.agent(w.alerts, name="sink")
    @contained("sink")
    async def sink(stream: Any) -> None:
        await state.consume(stream)

    @w.app.timer(interval=REPEAT_CHECK_S, name="repeat")
    async def repeat() -> None:
        state.repeat_check()
