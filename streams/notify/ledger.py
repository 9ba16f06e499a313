"""The notification log's rules: what was last sent to a receiver for an alert group decides
what happens to the next event for it (Alertmanager's notification log, made durable).

An entry is a plain dict (it lives in a changelog-backed table):
``{"state": "firing"|"resolved", "accepted": bool, "sent_at": unix s | None, "held": str |
None, "event": {...}}``. ``accepted`` says a trigger of the current firing reached the
receiver: a resolve is sent only then, and always then, even when a silence started in between
(the receiver has an open incident that only a resolve closes). ``held`` says why a trigger
was not sent (a silence, or inhibition by a firing page): once that ends and the alert still
fires, it is delivered (Alertmanager does the same when a silence expires or an inhibiting
alert resolves).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from streams.core.alerts import AlertEvent

Entry = dict[str, Any]


@dataclass(frozen=True)
class Plan:
    """``send`` the event, or ``skip`` it (with why); ``entry`` is the log entry to keep when
    skipping (None: leave the log unchanged)."""

    action: Literal["send", "skip"]
    reason: str = ""
    entry: Entry | None = None


def plan(entry: Entry | None, ev: AlertEvent, hold: str | None, send_resolved: bool) -> Plan:
    """Decide for one (alert group, receiver) what to do with a state-change event; ``hold``
    says why a trigger may not go out now ("silenced", "inhibited by a firing page"), if so."""
    if ev.state == "firing":
        if entry is not None and entry["state"] == "firing" and entry["accepted"]:
            return Plan("skip", "already sent")
        if hold is not None:
            return Plan("skip", hold, _entry(ev, accepted=False, sent_at=None, held=hold))
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


def repeat_due(entry: Entry, now: float, repeat_s: float, held: bool) -> bool:
    """A still-firing alert is re-sent after ``repeat_s`` (never while silenced or inhibited)."""
    return (
        entry["state"] == "firing"
        and entry["accepted"]
        and entry["sent_at"] is not None
        and now - entry["sent_at"] >= repeat_s
        and not held
    )


def release_due(entry: Entry, hold: str | None) -> bool:
    """A trigger held back by a silence or an inhibition goes out once nothing holds it, if
    its alert still fires (a resolve in between turned the entry to "resolved")."""
    return (
        entry["state"] == "firing"
        and not entry["accepted"]
        and entry.get("held") is not None
        and hold is None
    )


def _entry(ev: AlertEvent, accepted: bool, sent_at: float | None, held: str | None = None) -> Entry:
    return {
        "state": ev.state,
        "accepted": accepted,
        "sent_at": sent_at,
        "held": held,
        "event": ev.model_dump(),
    }
