"""``sloburn silence add|list|expire``: the silences API from a shell (token from
``SLOBURN_TOKEN``, never from a flag, so it stays out of shell history and ``ps``)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any

from streams.durations import parse_duration_s


def call_json(url: str, method: str, body: Any = None, token: str = "") -> tuple[int, Any]:
    """One JSON request (bearer token if given): (status, decoded body), error answers too."""
    req = urllib.request.Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={
            "Content-Type": "application/json",
            **({"Authorization": f"Bearer {token}"} if token else {}),
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def _line(s: dict[str, Any]) -> str:
    m = ", ".join(f"{k}={v}" for k, v in s["matchers"].items() if v is not None)
    who = f"by {s['created_by']}: {s['comment']}"
    return f"{s['id']}  {s['status']:<8} {m}  until {s['ends_at']}  {who}"


def cmd_silence(args: argparse.Namespace) -> int:
    """Exit 0 on success, 1 when the worker refused, 2 when it could not be reached."""
    base = args.url.rstrip("/") + "/v1/silences"
    token = os.environ.get("SLOBURN_TOKEN", "")
    try:
        if args.action == "list":
            status, body = call_json(base, "GET")
        elif args.action == "add":
            matchers = {"service": args.service, "slo": args.slo, "severity": args.severity}
            request = {
                "matchers": {k: v for k, v in matchers.items() if v},
                "comment": args.comment,
                "duration_seconds": parse_duration_s(args.duration),
            }
            status, body = call_json(base, "POST", request, token)
        else:
            status, body = call_json(f"{base}/{args.id}", "DELETE", token=token)
    except (urllib.error.URLError, OSError, ValueError) as e:
        print(f"silence: {getattr(e, 'reason', e)}", file=sys.stderr)
        return 2
    if status >= 400:
        print(f"silence: HTTP {status}: {body.get('error', body)}", file=sys.stderr)
        return 1
    for s in body["silences"] if args.action == "list" else [body]:
        print(_line(s))
    return 0


def add_parser(sub: Any) -> None:
    """The ``silence`` subcommand."""
    p = sub.add_parser("silence", help="add, list or expire silences (token: SLOBURN_TOKEN)")
    p.add_argument("--url", default=os.environ.get("SLOBURN_URL", "http://127.0.0.1:6066"))
    acts = p.add_subparsers(dest="action", required=True)
    a = acts.add_parser("add", help="silence matching alerts for a while")
    a.add_argument("--service")
    a.add_argument("--slo")
    a.add_argument("--severity", choices=["page", "ticket"])
    a.add_argument("--duration", required=True, help="e.g. 30m, 2h, 1d")
    a.add_argument("--comment", required=True, help="why (kept with the silence and audited)")
    acts.add_parser("list", help="every silence: active, pending and expired")
    e = acts.add_parser("expire", help="end a silence now")
    e.add_argument("id")
    p.set_defaults(fn=cmd_silence)
