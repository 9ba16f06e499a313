"""Checks across the whole SLO set, made after every file is mapped: what no single file can
know (a journey's members, an SLO defined in two files) and what loads but deserves a warning."""

from __future__ import annotations

import os

from streams.config.notifications import Notifications, secret_file_warnings
from streams.core.enforcement import WHEN_EVENTS
from streams.core.slo import SLO


def slo_set_errors(slos: list[SLO], bucket_s: int) -> list[str]:
    """Config errors of the merged SLOs, one line each (empty: none)."""
    errors = []
    for slo in slos:
        if slo.timeslice_s is not None and slo.timeslice_s % bucket_s:
            errors.append(
                f"{slo.source}: {slo.service}: timeslice_window_seconds: must be a multiple of "
                f"settings.bucket_seconds ({bucket_s}), got {slo.timeslice_s}"
            )
    return errors + _journey_errors(slos) + _duplicate_errors(slos)


def _journey_errors(slos: list[SLO]) -> list[str]:
    errors = []
    by_id = {s.id: s for s in slos}
    services = {s.service for s in slos if not s.members}
    for j in slos:
        if j.members and j.service in services:
            errors.append(
                f"{j.source}: journeys.{j.service}: expected a name no service has; "
                f"{j.service!r} is also a service"
            )
        for member, _ in j.members:
            m = by_id.get(member)
            if m is None or m.members:
                errors.append(
                    f"{j.source}: journeys.{j.service}.members.{member}: expected the id of a "
                    f"service's SLO (one of {sorted(i for i, s in by_id.items() if not s.members)})"
                )
    return errors


def _duplicate_errors(slos: list[SLO]) -> list[str]:
    errors = []
    seen: dict[str, str] = {}
    for slo in slos:
        if slo.id in seen:
            errors.append(
                f"{slo.source}: {slo.service}: SLO {slo.id!r} is defined twice "
                f"(also in {seen[slo.id]}); expected each service/SLI once"
            )
        seen[slo.id] = slo.source
    return errors


def routing_warnings(slos: list[SLO]) -> list[str]:
    """``enforcement.notification.when`` names that route nothing. Not errors: the seed's own
    document has this mismatch, and must load."""
    warnings = []
    for slo in slos:
        known = [r.name for r in slo.alerts] + list(WHEN_EVENTS)
        for name in slo.enforcement.notification.when:
            if name not in known:
                warnings.append(
                    f"{slo.source}: {slo.service}: enforcement.notification.when: {name!r} names "
                    f"no burn rate of this SLO (any of {known}); it routes nothing"
                )
    return warnings


def secret_warnings(source: str, notifications: Notifications) -> list[str]:
    """Secret files whose permissions deserve a look (see secret_file_warnings)."""
    warnings: list[str] = []
    for name, r in notifications.receivers.items():
        for field_name in ("webhook_url_file", "routing_key_file"):
            path = getattr(r, field_name)
            warnings.extend(
                f"{source}: notifications.receivers.{name}.{field_name}: {w}"
                for w in (secret_file_warnings(path, os.geteuid()) if path else [])
            )
    return warnings
