"""Which receivers an alert goes to, with which timing: pure, from the config alone.

Order of precedence: an SLO's own ``enforcement.notification.channels`` (the seed's policy
format, e.g. ``slack:#reliability``, ``pagerduty:escalation-tier-2``) for the rules its ``when``
names (all rules if empty); otherwise the ``routes`` (first match wins unless ``continue``);
with no routes, the default: a page to every PagerDuty and Slack receiver, a ticket to Slack.
"""

from __future__ import annotations

from dataclasses import dataclass

from streams.config.notifications import Notifications, Receiver, Route, RouteMatch
from streams.core.slo import SLO


@dataclass(frozen=True)
class Target:
    """One receiver an alert is delivered to, and the timing of its route."""

    name: str  # the receiver's name in the config
    receiver: Receiver
    group_wait_s: float = 0.0
    repeat_interval_s: float = 240 * 60.0
    send_resolved: bool = True
    channel: str = ""  # slack: a channel override from the SLO's channels
    escalation: str = ""  # pagerduty: the SLO's escalation name, when no receiver has it


def default_routes(notes: Notifications) -> tuple[Route, ...]:
    """No routes configured: pages to PagerDuty and Slack, tickets to Slack."""
    rs = notes.receivers_by_name
    pd = tuple(n for n, r in rs.items() if r.type == "pagerduty")
    slack = tuple(n for n, r in rs.items() if r.type == "slack")
    out = []
    if pd or slack:
        out.append(Route(match=RouteMatch(severity="page"), receivers=pd + slack))
    if slack:
        out.append(Route(match=RouteMatch(severity="ticket"), receivers=slack))
    return tuple(out)


def _matches(m: RouteMatch, service: str, slo: str, severity: str) -> bool:
    return (
        (m.service is None or m.service == service)
        and (m.slo is None or m.slo == slo)
        and (m.severity is None or m.severity == severity)
    )


def matching_routes(notes: Notifications, service: str, slo: str, severity: str) -> list[Route]:
    """The routes an alert takes: first match, and further ones while ``continue`` is set."""
    out = []
    for route in notes.routes or default_routes(notes):
        if _matches(route.match, service, slo, severity):
            out.append(route)
            if not route.continue_:
                break
    return out


def _target(
    name: str, receiver: Receiver, route: Route | None, channel: str = "", escalation: str = ""
) -> Target:
    r = route or Route(receivers=(name,))  # the defaults of a route
    return Target(
        name,
        receiver,
        group_wait_s=r.group_wait_seconds,
        repeat_interval_s=r.repeat_interval_minutes * 60,
        send_resolved=r.send_resolved,
        channel=channel,
        escalation=escalation,
    )


def _channel_targets(
    notes: Notifications, slo: SLO, severity: str, route: Route | None
) -> list[Target]:
    rs = notes.receivers_by_name
    slack = next((n for n, r in rs.items() if r.type == "slack"), None)
    pd = next((n for n, r in rs.items() if r.type == "pagerduty"), None)
    out: list[Target] = []
    for channel in slo.enforcement.notification.channels:
        kind, name = channel.split(":", 1)
        if kind == "slack" and slack:
            out.append(_target(slack, rs[slack], route, channel=name))
        elif kind == "pagerduty" and severity == "page":  # a ticket never wakes anyone
            if name in rs and rs[name].type == "pagerduty":
                out.append(_target(name, rs[name], route))
            elif pd:
                out.append(_target(pd, rs[pd], route, escalation=name))
    return out


def targets(
    notes: Notifications, slo: SLO | None, service: str, slo_id: str, rule: str, severity: str
) -> list[Target]:
    """Every receiver the alert goes to, each once (the first route naming it sets its timing)."""
    routes = matching_routes(notes, service, slo_id, severity)
    policy = slo.enforcement.notification if slo is not None else None
    if slo is not None and policy and policy.channels and (not policy.when or rule in policy.when):
        found = _channel_targets(notes, slo, severity, routes[0] if routes else None)
    else:
        rs = notes.receivers_by_name
        found = [_target(n, rs[n], r) for r in routes for n in r.receivers if n in rs]
    seen: set[str] = set()
    out = []
    for t in found:
        if t.name not in seen:
            seen.add(t.name)
            out.append(t)
    return out
