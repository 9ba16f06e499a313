"""PagerDuty Events API v2 bodies: trigger and resolve share the alert's dedup_key."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from streams.core.alerts import AlertEvent
from streams.notify.text import cut

SUMMARY_MAX = 1024  # PagerDuty rejects longer summaries with a 400: never lose a page to it
BODY_MAX = 512 * 1024  # PagerDuty's limit on a whole event


def pagerduty_event(
    ev: AlertEvent,
    routing_key: str,
    summary: str | None = None,
    links: dict[str, str] | None = None,
    escalation: str = "",
) -> dict[str, object]:
    """A trigger for a firing alert, a resolve (routing key + dedup key only) for a resolved."""
    if ev.state == "resolved":
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": ev.dedup_key}
    details: dict[str, object] = {
        "slo": ev.slo,
        "rule": ev.rule,
        "long_window_s": ev.long_window_s,
        "short_window_s": ev.short_window_s,
        "long_burn_rate": ev.long_burn_rate,
        "short_burn_rate": ev.short_burn_rate,
        "threshold": ev.threshold,
        "budget_remaining": ev.budget_remaining,
        "time_to_exhaustion_s": ev.time_to_exhaustion_s,
        "event_time": ev.ts,
    }
    if escalation:
        details["escalation"] = escalation
    payload: dict[str, object] = {
        "summary": cut(summary if summary is not None else ev.summary, SUMMARY_MAX),
        "source": ev.service,
        "severity": "critical" if ev.severity == "page" else "warning",
        "timestamp": datetime.fromtimestamp(ev.ts, UTC).isoformat(),
        "component": ev.slo,
        "group": ev.service,
        "class": f"burn-rate/{ev.rule}",
        "custom_details": details,
    }
    body: dict[str, object] = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": ev.dedup_key,
        "client": "sloburn",
        "payload": payload,
        "links": [{"href": url, "text": label} for label, url in (links or {}).items()],
    }
    if len(orjson.dumps(body)) > BODY_MAX:
        payload["custom_details"] = {
            "note": f"details omitted: the event was over PagerDuty's {BODY_MAX // 1024} KB limit"
        }
    return body
