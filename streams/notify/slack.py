"""Slack incoming-webhook messages for alert events: a plain-text fallback (what notifications
and screen readers show) plus blocks, coloured by state."""

from __future__ import annotations

from streams.core.alerts import NO_DATA_RULE, AlertEvent
from streams.core.durations import window_label
from streams.notify.text import cut

SECTION_MAX = 3000  # Slack rejects a section text block over 3,000 characters

COLOURS = {"page": "#D00000", "ticket": "#E8A317", "resolved": "#2EB67D"}


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "never at this rate"
    if seconds <= 0:
        return "exhausted"
    h, m = divmod(int(seconds) // 60, 60)
    return f"{h // 24}d {h % 24}h" if h >= 24 else f"{h}h {m:02d}m"


def slack_message(
    ev: AlertEvent,
    summary: str,
    links: dict[str, str] | None = None,
    channel: str = "",
    repeat: bool = False,
) -> dict[str, object]:
    """The webhook body. ``links`` maps a label (Dashboard, Runbook) to a URL."""
    state = "STILL FIRING" if repeat else ev.state.upper()
    icon = ":white_check_mark:" if ev.state == "resolved" else ":rotating_light:"
    colour = COLOURS["resolved" if ev.state == "resolved" else ev.severity]

    def burn(rate: float, window_s: int) -> str:
        mark = "above" if rate > ev.threshold else "below"
        return f"{rate:.1f}x over {window_label(window_s)} ({mark} {ev.threshold:g}x)"

    windows = (
        [("No events for", window_label(ev.long_window_s))]
        if ev.rule == NO_DATA_RULE
        else [
            ("Long window", burn(ev.long_burn_rate, ev.long_window_s)),
            ("Short window", burn(ev.short_burn_rate, ev.short_window_s)),
        ]
    )
    fields = [
        ("SLO", f"`{ev.slo}`"),
        ("Service", f"`{ev.service}`"),
        *windows,
        ("Budget remaining", f"{ev.budget_remaining:.1%}"),
        ("Budget exhausted in", _duration(ev.time_to_exhaustion_s)),
    ]
    blocks: list[dict[str, object]] = [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": cut(f"{icon} *{state}* {summary}", SECTION_MAX)},
        },
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in fields],
        },
    ]
    context = [f"rule `{ev.rule}` · severity `{ev.severity}`"]
    context += [f"<{url}|{label}>" for label, url in (links or {}).items()]
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(context)}]}
    )
    body: dict[str, object] = {
        "text": cut(f"{state}: {summary}", SECTION_MAX),
        "attachments": [{"color": colour, "blocks": blocks}],
    }
    if channel:
        body["channel"] = channel
    return body
