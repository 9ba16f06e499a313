"""``sloburn silence add|list|expire``, ``sloburn exclude add|list|delete`` and ``sloburn
gate``: the worker's API from a shell. Every one takes ``--url`` and ``--token`` anywhere on
its line, or ``SLOBURN_URL`` and ``SLOBURN_TOKEN`` (the safer way to pass a token)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from datetime import datetime
from typing import Any

from streams.core.durations import parse_duration_s


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


def _matched(item: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in item["matchers"].items() if v is not None)


def _line(s: dict[str, Any]) -> str:
    who = f"by {s['created_by']}: {s['comment']}"
    return f"{s['id']}  {s['status']:<8} {_matched(s)}  until {s['ends_at']}  {who}"


def _exclusion_line(e: dict[str, Any]) -> str:
    span = f"{e['starts_at']} .. {e['ends_at']}"
    who = f"by {e['created_by']}: {e['comment']}"
    return f"{e['id']}  {e['status']:<8} {e['kind']} {_matched(e)}  {span}  {who}"


def event_time(text: str) -> float:
    """Unix seconds, or an ISO 8601 time (Z or an offset; local time without one)."""
    try:
        return float(text)
    except ValueError:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class Refused(Exception):
    """A client command's request failed; ``code`` is its exit code (1 the worker refused,
    2 it could not be reached). What went wrong was printed already."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def request(args: argparse.Namespace, name: str, method: str, path: str, body: Any = None) -> Any:
    """The worker's JSON answer to one request at ``path`` (under ``--url``, with the token)."""
    try:
        status, answer = call_json(f"{args.url.rstrip('/')}{path}", method, body, args.token)
    except (urllib.error.URLError, OSError, ValueError) as e:
        print(f"{name}: {getattr(e, 'reason', e)}", file=sys.stderr)
        raise Refused(2) from None
    if status >= 400:
        print(f"{name}: HTTP {status}: {answer.get('error', answer)}", file=sys.stderr)
        raise Refused(1)
    return answer


def _run(args: argparse.Namespace, what: str, body: Any) -> int:
    """Exit 0 on success, 1 when the worker refused, 2 when it could not be reached."""
    name = what.rstrip("s")
    try:
        if args.action == "list":
            answer = request(args, name, "GET", f"/v1/{what}")
        elif args.action == "add":
            answer = request(args, name, "POST", f"/v1/{what}", body())
        else:
            answer = request(args, name, "DELETE", f"/v1/{what}/{args.id}")
    except Refused as r:
        return r.code
    line = _line if what == "silences" else _exclusion_line
    for item in answer[what] if args.action == "list" else [answer]:
        print(line(item))
    return 0


def verdict_line(v: dict[str, Any]) -> str:
    """A gate decision in one line, as ``sloburn gate`` prints it."""
    why = "; ".join(v["reasons"]) or "budget healthy"
    return f"gate {v['service']}: {v['decision'].upper()} - {why}"


def cmd_silence(args: argparse.Namespace) -> int:
    """``sloburn silence``; exit codes as ``_run``."""

    def request() -> dict[str, Any]:
        matchers = {"service": args.service, "slo": args.slo, "severity": args.severity}
        return {
            "matchers": {k: v for k, v in matchers.items() if v},
            "comment": args.comment,
            "duration_seconds": parse_duration_s(args.duration),
        }

    return _run(args, "silences", request)


def cmd_exclude(args: argparse.Namespace) -> int:
    """``sloburn exclude``; exit codes as ``_run``."""

    def request() -> dict[str, Any]:
        matchers = {"service": args.service, "slo": args.slo}
        body = {
            "kind": args.kind,
            "matchers": {k: v for k, v in matchers.items() if v},
            "starts_at": event_time(args.start),
            "ends_at": event_time(args.end),
            "comment": args.comment,
        }
        recurring = {"rrule": args.every, "timezone": args.timezone}
        return {**body, **{k: v for k, v in recurring.items() if v}}

    return _run(args, "exclusions", request)


def default_url() -> str:
    """Where client commands find the worker: SLOBURN_URL, else the worker's own
    SLOBURN_WEB_PORT on loopback, else its default port."""
    port = os.environ.get("SLOBURN_WEB_PORT", "6066")
    return os.environ.get("SLOBURN_URL") or f"http://127.0.0.1:{port}"


def client_options(p: argparse.ArgumentParser, defaults: bool = True) -> None:
    """``--url`` and ``--token``. A command with actions adds them to itself and (without
    ``defaults``) to each action, so they may come before or after the action: an action's
    own default would otherwise overwrite what was given before it."""
    url = default_url() if defaults else argparse.SUPPRESS
    token = os.environ.get("SLOBURN_TOKEN", "") if defaults else argparse.SUPPRESS
    p.add_argument(
        "--url", default=url, help="the worker's base URL (default: $SLOBURN_URL, %(default)s)"
    )
    p.add_argument(
        "--token",
        default=token,
        help="API token for writes (default: $SLOBURN_TOKEN, which keeps it out of shell "
        "history and ps)",
    )


class _Actions:
    """An actions group whose every action takes the client options too."""

    def __init__(self, group: Any) -> None:
        self.group = group

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = self.group.add_parser(name, **kwargs)
        client_options(p, defaults=False)
        return p


def command(sub: Any, name: str, help_text: str, fn: Any) -> _Actions:
    """A subcommand with the client options and its actions; returns the actions' group."""
    p = sub.add_parser(name, help=help_text)
    client_options(p)
    p.set_defaults(fn=fn)
    return _Actions(p.add_subparsers(dest="action", required=True))


def add_parser(sub: Any) -> None:
    """The ``silence`` subcommand."""
    acts = command(sub, "silence", "add, list or expire silences", cmd_silence)
    a = acts.add_parser("add", help="silence matching alerts for a while")
    a.add_argument("--service", help="only this service's alerts")
    a.add_argument("--slo", help="only this SLO's alerts")
    a.add_argument("--severity", choices=["page", "ticket"], help="only this severity")
    a.add_argument("--duration", required=True, help="e.g. 30m, 2h, 1d")
    a.add_argument("--comment", required=True, help="why (kept with the silence and audited)")
    acts.add_parser("list", help="every silence: active, pending and expired")
    e = acts.add_parser("expire", help="end a silence now")
    e.add_argument("id", help="the silence's id (see list)")


def add_exclude_parser(sub: Any) -> None:
    """The ``exclude`` subcommand."""
    acts = command(sub, "exclude", "maintenance windows and corrections", cmd_exclude)
    a = acts.add_parser("add", help="leave an event-time range out of budgets (past or future)")
    a.add_argument("--service", help="every SLO of this service")
    a.add_argument("--slo", help="only this SLO")
    a.add_argument(
        "--kind",
        choices=["maintenance", "correction"],
        default="maintenance",
        help="planned work, or bad data to leave out",
    )
    a.add_argument("--from", dest="start", required=True, help="ISO 8601 or unix seconds")
    a.add_argument("--to", dest="end", required=True, help="ISO 8601 or unix seconds")
    a.add_argument("--comment", required=True, help="why (kept with it and audited)")
    a.add_argument(
        "--every",
        metavar="RRULE",
        help="repeat it: an RFC 5545 rule such as 'FREQ=WEEKLY;BYDAY=SU' (--from/--to is then "
        "the first occurrence)",
    )
    a.add_argument(
        "--timezone",
        help="IANA zone whose wall clock the occurrences keep across DST (default UTC)",
    )
    acts.add_parser("list", help="every exclusion, deleted ones too")
    d = acts.add_parser("delete", help="count the range again")
    d.add_argument("id", help="the exclusion's id (see list)")


NO_DATA_EXIT = 3


def gate_exit(v: dict[str, Any]) -> int:
    """0: release; 1: do not (budget, burn or freeze); 3: do not, the service has no data and
    its policy blocks on that (``on_no_data: block``)."""
    if v["proceed"]:
        return 0
    return NO_DATA_EXIT if v["decision"] == "no_data" else 1


def cmd_gate(args: argparse.Namespace) -> int:
    """Exit 0 to release, 1 not to, 2 when the answer cannot be had, 3 not to for lack of
    data."""
    import json
    import urllib.error
    import urllib.parse
    import urllib.request

    url = (
        f"{args.url.rstrip('/')}/v1/gate/{urllib.parse.quote(args.service, safe='')}"
        f"{'?critical=true' if args.critical else ''}"
    )
    auth = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=auth), timeout=args.timeout
        ) as r:
            v = json.loads(r.read())
    except urllib.error.HTTPError as e:
        detail = ""
        try:
            body = json.loads(e.read())
            detail = (
                f": {body.get('error', '')}; known services: {', '.join(body.get('known', []))}"
            )
        except (ValueError, AttributeError):
            pass
        print(f"gate {args.service}: cannot tell (HTTP {e.code}{detail})", file=sys.stderr)
        return 2
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        reason = getattr(e, "reason", e)
        print(
            f"gate {args.service}: cannot tell: worker at {args.url} unreachable ({reason})",
            file=sys.stderr,
        )
        return 2
    if args.json:
        print(json.dumps(v, indent=2))
    else:
        print(verdict_line(v))
    return gate_exit(v)


def add_gate_parser(sub: Any) -> None:
    """The gate command."""
    g = sub.add_parser(
        "gate", help="may SERVICE release now? exit 0 yes, 1 no, 2 cannot tell, 3 no (no data)"
    )
    g.add_argument("service", help="the service about to release")
    client_options(g)
    g.add_argument("--critical", action="store_true", help="a critical fix: may pass a block")
    g.add_argument("--json", action="store_true", help="print the whole decision as JSON")
    g.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the worker")
    g.set_defaults(fn=cmd_gate)
