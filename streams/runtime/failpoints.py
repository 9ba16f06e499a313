"""Failpoints: make one agent raise on chosen messages, to prove failure isolation end to end.

``SLOBURN_FAILPOINTS="ingest=MARK,windows=MARK"`` makes ``check(agent, raw)`` raise
InjectedFault for every message of that agent whose bytes contain MARK. Unset (production),
a check is one dict lookup. This is how the tests show, on a real worker, that an unexpected
error in any agent dead-letters that one message and costs no other (etcd's gofail idea).
"""

from __future__ import annotations

import os


class InjectedFault(RuntimeError):
    """The error a failpoint raises."""


def _parse(spec: str) -> dict[str, bytes]:
    points = {}
    for part in spec.split(","):
        agent, sep, mark = part.partition("=")
        if sep and agent.strip() and mark:
            points[agent.strip()] = mark.encode()
    return points


_POINTS = _parse(os.environ.get("SLOBURN_FAILPOINTS", ""))


def armed(agent: str) -> bool:
    """Whether ``agent`` has a failpoint (a hot path skips building what ``check`` reads)."""
    return agent in _POINTS


def check(agent: str, raw: bytes) -> None:
    """Raise InjectedFault when ``agent`` has a failpoint whose mark ``raw`` contains."""
    mark = _POINTS.get(agent)
    if mark is not None and mark in raw:
        raise InjectedFault(f"failpoint {agent} hit")
