"""Slack incoming-webhook messages for alert events."""

from __future__ import annotations

from streams.models import AlertEvent


def slack_message(ev: AlertEvent) -> dict[str, object]:
    """The webhook body: a plain-text fallback plus one formatted section."""
    icon = ":rotating_light:" if ev.state == "firing" else ":white_check_mark:"
    head = f"{icon} *{ev.state.upper()}* {ev.summary}"
    details = (
        f"service `{ev.service}` · rule `{ev.rule}` · severity `{ev.severity}`\n"
        f"dedup key `{ev.dedup_key[:16]}…`"
    )
    return {
        "text": f"{ev.state.upper()}: {ev.summary}",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": head}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": details}]},
        ],
    }
