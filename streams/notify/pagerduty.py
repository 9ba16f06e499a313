"""PagerDuty Events API v2 bodies: trigger and resolve share the alert's dedup_key."""

from __future__ import annotations

from streams.models import AlertEvent

SUMMARY_MAX = 1024  # PagerDuty rejects longer summaries with a 400: never lose a page to it


def pagerduty_event(ev: AlertEvent, routing_key: str) -> dict[str, object]:
    """A trigger for a firing alert, a resolve for a resolved one."""
    if ev.state == "resolved":
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": ev.dedup_key}
    summary = ev.summary
    if len(summary) > SUMMARY_MAX:
        summary = summary[: SUMMARY_MAX - 1] + "…"
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": ev.dedup_key,
        "client": "sloburn",
        "payload": {
            "summary": summary,
            "source": "sloburn",
            "severity": "critical" if ev.severity == "page" else "warning",
            "component": ev.service,
            "group": ev.slo,
            "class": ev.rule,
            "custom_details": {
                "long_window_s": ev.long_window_s,
                "short_window_s": ev.short_window_s,
                "long_burn_rate": ev.long_burn_rate,
                "short_burn_rate": ev.short_burn_rate,
                "threshold": ev.threshold,
                "budget_remaining": ev.budget_remaining,
                "event_time": ev.ts,
            },
        },
    }
