"""The notification log's rules: what was last sent to a receiver for an alert group decides
what happens to the next event for it (Alertmanager's notification log, made durable).

An entry is a plain dict (it lives in a changelog-backed table):
``{"state": "firing"|"resolved", "accepted": bool, "sent_at": unix s | None, "event": {...}}``.
``accepted`` says a trigger of the current firing reached the receiver: a resolve is sent only
then, and always then, even when a silence started in between (the receiver has an open
incident that only a resolve closes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from streams.models import AlertEvent

Entry = dict[str, Any]


@dataclass(frozen=True)
class Plan:
    """``send`` the event, or ``skip`` it (with why); ``entry`` is the log entry to keep when
    skipping (None: leave the log unchanged)."""

    action: Literal["send", "skip"]
    reason: str = ""
    entry: Entry | None = None


def plan(entry: Entry | None, ev: AlertEvent, silenced: bool, send_resolved: bool) -> Plan:
    """Decide for one (alert group, receiver) what to do with a state-change event."""
    if ev.state == "firing":
        if entry is not None and entry["state"] == "firing" and entry["accepted"]:
            return Plan("skip", "already sent")
        if silenced:
            return Plan("skip", "silenced", _entry(ev, accepted=False, sent_at=None))
        return Plan("send")
    if entry is None or entry["state"] != "firing":
        return Plan("skip", "already resolved" if entry else "nothing was sent")
    if not entry["accepted"]:
        return Plan("skip", "no trigger was accepted", _entry(ev, accepted=False, sent_at=None))
    if not send_resolved:
        return Plan("skip", "send_resolved is off", _entry(ev, accepted=False, sent_at=None))
    return Plan("send")


def after_sent(ev: AlertEvent, now: float) -> Entry:
    """The entry once the receiver accepted ``ev``."""
    return _entry(ev, accepted=ev.state == "firing", sent_at=now)


def repeat_due(entry: Entry, now: float, repeat_s: float, silenced: bool) -> bool:
    """A still-firing alert is re-sent after ``repeat_s`` (never while silenced)."""
    return (
        entry["state"] == "firing"
        and entry["accepted"]
        and entry["sent_at"] is not None
        and now - entry["sent_at"] >= repeat_s
        and not silenced
    )


def _entry(ev: AlertEvent, accepted: bool, sent_at: float | None) -> Entry:
    return {"state": ev.state, "accepted": accepted, "sent_at": sent_at, "event": ev.model_dump()}
