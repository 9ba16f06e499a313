"""``sloburn override add|list|revoke``: let a blocked service release for a while, see the
approvals in force, take one back. Writes need a token (``--token`` or ``SLOBURN_TOKEN``); the
worker audits each in ``sloburn.decisions`` with the token's approver."""

from __future__ import annotations

import argparse
import urllib.parse
from typing import Any

from streams.cli.remote import Refused, command, event_time, request, verdict_line
from streams.core.durations import parse_duration_s


def _line(o: dict[str, Any]) -> str:
    return f"{o['service']}  by {o['approver']} until {o['expires_at']}: {o['reason']}"


def cmd_override(args: argparse.Namespace) -> int:
    """Exit 0 on success, 1 when the worker refused, 2 when it could not be reached."""
    service = getattr(args, "service", None)
    path = f"/v1/gate/{urllib.parse.quote(service, safe='')}/override" if service else ""
    try:
        if args.action == "list":
            answer = request(args, "override", "GET", path or "/v1/overrides")
            found = answer["overrides"] if not service else [answer] if answer["override"] else []
            for o in found:
                print(_line(o if not service else {"service": service, **o["override"]}))
            if not found:
                print("no override in force")
            return 0
        if args.action == "add":
            until: dict[str, float] = (
                {"expires_in_seconds": parse_duration_s(args.duration)}
                if args.duration
                else {"expires_at": event_time(args.until)}
            )
            answer = request(args, "override", "POST", path, {"reason": args.reason, **until})
        else:
            answer = request(args, "override", "DELETE", path)
    except Refused as r:
        return r.code
    print(verdict_line(answer))
    return 0


def add_parser(sub: Any) -> None:
    """The ``override`` subcommand."""
    acts = command(sub, "override", "approve, list or revoke release overrides", cmd_override)
    a = acts.add_parser("add", help="let SERVICE release whatever its budget says, for a while")
    a.add_argument("service", help="the service to let through")
    a.add_argument("--reason", required=True, help="why (kept with it and audited)")
    until = a.add_mutually_exclusive_group(required=True)
    until.add_argument("--for", dest="duration", help="how long, e.g. 2h (at most 7d)")
    until.add_argument("--until", help="until when: ISO 8601 or unix seconds")
    ls = acts.add_parser("list", help="the overrides in force (of SERVICE, or all)")
    ls.add_argument("service", nargs="?", help="only this service")
    r = acts.add_parser("revoke", help="end SERVICE's override now")
    r.add_argument("service", help="the service whose override ends")
