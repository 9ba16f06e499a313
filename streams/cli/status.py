"""``sloburn status``: every SLO's budget, burn and firing alerts as a table (or ``--json``),
from the worker's ``/v1/slos``: what on-call looks at first, without a browser."""

from __future__ import annotations

import argparse
import json
from typing import Any

from streams.cli.remote import Refused, client_options, request

BURN_WINDOWS = (3600, 6 * 3600)  # every SLO evaluates both (budget exhaustion projections)


def _percent(ratio: float) -> str:
    return f"{100 * ratio:.1f} %"


def _burn(slo: dict[str, Any], window_s: int) -> str:
    rates = {w["window_s"]: w["burn_rate"] for w in slo.get("windows", [])}
    rate = rates.get(window_s)
    return "-" if rate is None else f"{rate:.2f}x"


def rows(slos: list[dict[str, Any]]) -> list[list[str]]:
    """The table: a header, then one row per SLO (no data yet says so)."""
    out = [["SLO", "TARGET", "BUDGET LEFT", "BURN 1h", "BURN 6h", "FIRING"]]
    for s in slos:
        target = f"{100 * s['target']:g} % / {s['window']}"
        if "budget" not in s:
            out.append([s["id"], target, "no data yet", "-", "-", ""])
            continue
        firing = [f"{a['rule']} ({a['severity']})" for a in s["alerts"] if a["firing"]]
        left = _percent(s["budget"]["remaining"]) + (" (no data)" if s["no_data"] else "")
        out.append([s["id"], target, left, *(_burn(s, w) for w in BURN_WINDOWS), ", ".join(firing)])
    return out


def table(lines: list[list[str]]) -> str:
    """Columns padded to their widest cell; numbers right-aligned."""
    widths = [max(len(r[i]) for r in lines) for i in range(len(lines[0]))]
    right = {2, 3, 4}
    return "\n".join(
        "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ).rstrip()
        for r in lines
    )


def cmd_status(args: argparse.Namespace) -> int:
    """Exit 0 with nothing firing, 1 when something fires, 2 when the worker cannot tell."""
    try:
        slos = request(args, "status", "GET", "/v1/slos")["slos"]
    except Refused as r:
        return 2 if r.code == 2 else 1
    if args.service:
        slos = [s for s in slos if s["service"] == args.service]
    if args.json:
        print(json.dumps(slos, indent=2))
    else:
        print(table(rows(slos)))
    firing = any(a["firing"] for s in slos for a in s.get("alerts", []))
    return 1 if firing else 0


def add_parser(sub: Any) -> None:
    """The ``status`` command."""
    p = sub.add_parser(
        "status", help="every SLO's budget, burn rates and firing alerts (exit 1 if any fires)"
    )
    client_options(p)
    p.add_argument("--service", help="only this service's SLOs")
    p.add_argument("--json", action="store_true", help="the worker's JSON, as /v1/slos gives it")
    p.set_defaults(fn=cmd_status)
