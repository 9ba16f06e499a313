"""Release gate: each service's decision every tick (audited when it changes) and the
feature-flag rollback call when a fast burn pages (once per burn episode, across restarts)."""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any

import aiohttp
import orjson
from pydantic import ValidationError

from streams.core.alerts import AlertEvent
from streams.core.release_gate import Override, Verdict, decide, rollback_episode
from streams.core.schedule import Due
from streams.ingest.dead_letters import Rejection, dlq_record, internal_error
from streams.notify.delivery import deliver
from streams.runtime import failpoints, journal
from streams.runtime.containment import contained, source_of
from streams.runtime.wiring import Wiring

log = logging.getLogger(__name__)

GATE_HISTORY = ("decision", "override", "override_revoked")  # audit kinds the page shows


def verdict(w: Wiring, service: str, now: float, critical: bool = False) -> Verdict:
    """The service's decision now from the evaluator's latest statuses and the gate state."""
    slos = w.cfg.slos_of(service)
    statuses = [w.published.statuses[s.id] for s in slos if s.id in w.published.statuses]
    unevaluated = [s for s in slos if s.id not in w.published.statuses]
    raw = w.gate_state.get(f"{service}|override")
    rollbacks = {}
    for s in slos:
        last = w.gate_state.get(f"{s.id}|rollback")
        if last:
            rollbacks[s.id] = last["outcome"]
    ov = Override(**raw) if raw else None
    return decide(service, statuses, now, ov, critical, rollbacks, unevaluated)


async def audit(w: Wiring, record: dict[str, Any]) -> None:
    """Publish one audit record (who, why, when) to sloburn.decisions, keyed by service (by
    kind for records about no single service, such as a silence on a whole severity)."""
    key = record.get("service") or record["kind"]
    await w.decisions.send(key=str(key).encode(), value=orjson.dumps(record))
    if record.get("service") and record["kind"] in GATE_HISTORY:
        at = record.get("at", time.time())
        journal.append(w.gate_state, journal.gate_history_key(record["service"]),
                       {**record, "at": at})  # fmt: skip


def rollback_body(ev: AlertEvent) -> dict[str, object]:
    """The documented body POSTed to the feature-flag webhook."""
    return {
        "action": "rollback",
        "service": ev.service,
        "slo": ev.slo,
        "rule": ev.rule,
        "severity": ev.severity,
        "burn_rate": ev.long_burn_rate,
        "threshold": ev.threshold,
        "budget_remaining": ev.budget_remaining,
        "firing_since": ev.ts,
        "idempotency_key": hashlib.sha256(f"{ev.dedup_key}|{ev.ts}".encode()).hexdigest(),
        "reason": ev.summary,
    }


async def record_decision(w: Wiring, service: str, now: float) -> Verdict | None:
    """The service's decision now, audited if it differs from the last one audited; None when
    this worker evaluates none of its SLOs (nothing yet, or they are owned elsewhere).

    Both the timer and every answer of /v1/gate go through here, so a decision a release
    pipeline was given is in the audit even when it lasted less than a tick.
    """
    if not any(s.id in w.published.statuses for s in w.cfg.slos_of(service)):
        return None
    async with w.gate_lock:  # the timer and an HTTP answer must not both record one change
        v = verdict(w, service, now)
        w.metrics.observe_decision(service, v.decision)
        key = f"{service}|decision"
        last = w.gate_state.get(key)
        if last is not None and last["decision"] == v.decision:
            return v
        await audit(
            w,
            {
                "kind": "decision",
                "service": service,
                "from": last["decision"] if last else None,
                "to": v.decision,
                "who": "sloburn policy",
                "why": list(v.reasons) or ["budget healthy"],
                "at": now,
                "policy_version": v.policy_version,
            },
        )
        w.gate_state[key] = {"decision": v.decision, "at": now}
        log.info("gate %s: %s -> %s", service, last and last["decision"], v.decision)
        return v


async def call_flag(session: aiohttp.ClientSession, url: str, ev: AlertEvent) -> str:
    """POST the rollback to the feature-flag webhook (retried); what happened, in words."""
    if not url:
        return "not called: feature_flag.webhook_url is empty"
    result = await deliver(session, "webhook", url, rollback_body(ev), deadline_s=120)
    if result.delivered:
        return "called"
    return f"failed after {result.attempts} attempts: {result.reason}"


async def roll_back(w: Wiring, session: aiohttp.ClientSession, raw: bytes) -> None:
    """Call the feature-flag webhook once per burn episode of an SLO's pages."""
    try:
        ev = AlertEvent.model_validate_json(raw)
    except ValidationError:
        return  # the sink agent dead-letters unreadable alert events
    failpoints.check("rollback", raw)
    slo = w.cfg.slo(ev.slo)
    if slo is None or ev.severity != "page":
        return
    episode_key = f"{ev.slo}|rollback|episode"
    done_key = f"{ev.slo}|rollback|{ev.rule}|{ev.ts}"
    firing = ev.state == "firing"
    if firing and w.gate_state.get(done_key) is not None:
        return  # this firing was already handled (redelivery after a restart)
    flag = slo.enforcement.feature_flag
    qualifies = flag.auto_rollback and ev.long_burn_rate >= flag.burn_threshold
    call, episode = rollback_episode(w.gate_state.get(episode_key), ev.rule, firing, qualifies)
    w.gate_state[episode_key] = list(episode) if episode else None
    if not call:
        if firing and episode is not None:  # joined: a redelivery must not call later
            w.gate_state[done_key] = {"outcome": "joined the open episode", "at": time.time()}
        return
    outcome = await call_flag(session, flag.webhook_url, ev)
    now = time.time()
    w.gate_state[done_key] = {"outcome": outcome, "at": now}
    w.gate_state[f"{ev.slo}|rollback"] = {"outcome": outcome, "at": now}
    await audit(
        w,
        {
            "kind": "rollback",
            "service": ev.service,
            "slo": ev.slo,
            "rule": ev.rule,
            "who": "sloburn policy",
            "why": ev.summary,
            "outcome": outcome,
            "at": now,
        },
    )
    log.warning("rollback for %s (%s): %s", ev.slo, ev.rule, outcome)


def register(w: Wiring) -> None:
    """Attach the decision timer and the rollback agent."""
    for s in w.cfg.slos:
        flag = s.enforcement.feature_flag
        if flag.auto_rollback and not flag.webhook_url:
            log.warning(
                "%s: auto_rollback is on but feature_flag.webhook_url is empty: "
                "rollbacks will be decided but not called",
                s.id,
            )

    # A service is decided again when one of its SLOs was evaluated, else once per 10 s
    # (freezes and overrides follow the clock); /v1/gate always decides afresh.
    due = Due(10)

    @w.app.timer(interval=w.cfg.settings.evaluation_interval_seconds, name="gate")
    async def audit_decisions() -> None:
        now = time.time()
        fresh, w.published.fresh = w.published.fresh, set()
        for service in w.cfg.services:
            if not due.due(service, now, service in fresh):
                continue
            try:
                await record_decision(w, service, now)
            except Exception:  # a raising timer stops the worker
                log.exception("gate decision for %s failed", service)

    @w.app.agent(w.alerts, name="rollback")
    @contained("rollback")
    async def rollback(stream: Any) -> None:
        async with aiohttp.ClientSession() as session:
            async for event in stream.events():
                raw = bytes(event.value or b"")
                try:
                    await roll_back(w, session, raw)
                except Exception as exc:  # contained: this alert event only
                    log.exception("rollback of an alert event failed; dead-lettered")
                    w.metrics.internal_errors.labels("rollback").inc()
                    rej = Rejection("internal_error", internal_error(exc))
                    where = {"agent": "rollback", **source_of(event)}
                    await w.notifications_dlq.send(value=dlq_record(raw, [rej], where))
