"""Sink agent: alert events -> Slack and PagerDuty, retried with backoff, DLQ when given up.

Routing (issue-2 default): a page goes to PagerDuty and Slack, a ticket to Slack. A receiver
whose secret is empty is disabled (said once at start).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import orjson
from pydantic import ValidationError

from streams.app import Wiring
from streams.models import AlertEvent
from streams.notify.delivery import Decision, Outcome, Receiver, deliver
from streams.notify.pagerduty import pagerduty_event
from streams.notify.slack import slack_message

log = logging.getLogger(__name__)


def register(w: Wiring) -> None:
    """Attach the sink agent to the app."""
    m = w.metrics
    notes = w.cfg.notifications
    if not notes.slack_webhook_url:
        log.warning("slack receiver disabled: notifications.slack_webhook_url is empty")
    if not notes.pagerduty_routing_key:
        log.warning("pagerduty receiver disabled: notifications.pagerduty_routing_key is empty")

    def targets(ev: AlertEvent) -> list[tuple[Receiver, str, dict[str, object]]]:
        notes = w.cfg.notifications  # read per event: a reload swaps it
        out: list[tuple[Receiver, str, dict[str, object]]] = []
        if ev.severity == "page" and notes.pagerduty_routing_key:
            out.append(
                (
                    "pagerduty",
                    notes.pagerduty_events_url,
                    pagerduty_event(ev, notes.pagerduty_routing_key),
                )
            )
        if notes.slack_webhook_url:
            out.append(("slack", notes.slack_webhook_url, slack_message(ev)))
        return out

    async def send_one(
        session: aiohttp.ClientSession,
        ev: AlertEvent,
        receiver: Receiver,
        url: str,
        body: dict[str, object],
    ) -> None:
        def retrying(d: Decision) -> None:
            m.notification_retries.labels(receiver).inc()
            log.warning(
                "%s delivery of %s will retry in %.1fs: %s", receiver, ev.id, d.delay_s, d.reason
            )

        result: Outcome = await deliver(session, receiver, url, body, on_retry=retrying)
        if result.delivered:
            m.notifications_sent.labels(receiver, ev.state).inc()
            log.info(
                "%s accepted %s %s for %s/%s",
                receiver,
                ev.state,
                ev.dedup_key[:12],
                ev.slo,
                ev.rule,
            )
            return
        m.notification_failures.labels(receiver).inc()
        log.error("%s delivery of %s failed: %s", receiver, ev.id, result.reason)
        await w.notifications_dlq.send(
            key=ev.dedup_key.encode(),
            value=orjson.dumps(
                {
                    "receiver": receiver,
                    "error": result.reason,
                    "attempts": result.attempts,
                    "alert": ev.model_dump(),
                }
            ),
        )

    @w.app.agent(w.alerts, name="sink")
    async def sink(stream: Any) -> None:
        async with aiohttp.ClientSession() as session:
            async for raw in stream:
                try:
                    ev = AlertEvent.model_validate_json(raw)
                except ValidationError as e:
                    log.error("unreadable alert event skipped to DLQ: %s", e.errors()[0]["msg"])
                    await w.notifications_dlq.send(
                        value=orjson.dumps(
                            {
                                "error": "invalid alert event",
                                "raw": bytes(raw).decode("utf-8", "replace"),
                            }
                        )
                    )
                    continue
                await asyncio.gather(
                    *(send_one(session, ev, r, url, body) for r, url, body in targets(ev))
                )
