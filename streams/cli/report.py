"""``sloburn report``: the SLO review as Markdown and HTML, from a replay of a file of
outcomes (any period the file covers: a quarter, a year) or from a running worker's API (as
far back as its stored state reaches: each SLO's window)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from streams.cli.common import config_paths, load
from streams.cli.remote import Refused, client_options, event_time, request
from streams.core.durations import parse_duration_s, window_label
from streams.core.review import (
    Period,
    ReviewRule,
    SloReview,
    episodes,
    exclusion_line,
    override_line,
    periods_of,
    time_in_decisions,
)
from streams.core.slo import SLO


def from_worker(args: argparse.Namespace, slos: list[SLO]) -> list[SloReview]:
    """Each SLO's review from the worker's /history over ``--range`` (default: all of it)."""
    out = []
    for slo in slos:
        range_ = args.range or window_label(slo.retention_s)
        path = f"/v1/slos/{quote(slo.id)}/history?range={range_}"
        h = request(args, "report", "GET", path)
        if not h.get("to"):
            continue  # not evaluated yet
        out.append(review_of(slo, h))
    return out


def review_of(slo: SLO, h: dict[str, Any]) -> SloReview:
    """One SLO's review from a /history answer (its steps summed per SLO window)."""
    lo, hi = event_time(h["from"]), event_time(h["to"])
    steps = [(event_time(p["at"]), p["bad"], p["total"]) for p in h["points"][1:]]
    periods = []
    for a, b in periods_of(slo, lo, hi):
        inside = [(bad, n) for t, bad, n in steps if a < t <= b or (t == lo == a)]
        periods.append(Period(a, b, sum(x for x, _ in inside), sum(n for _, n in inside)))
    alerts = [(event_time(a["at"]), a["rule"], a["severity"], a["state"]) for a in h["alerts"]]
    decisions = [(event_time(g["at"]), g["to"]) for g in h["gate"] if g["kind"] == "decision"]
    before = next((g["from"] for g in h["gate"] if g["kind"] == "decision"), None)
    review = SloReview(
        slo, lo, hi, periods, episodes(alerts), time_in_decisions(decisions, lo, hi, before)
    )
    review.overrides = [
        override_line(event_time(g["at"]), g["kind"], g.get("who", "?"), g.get("why") or "")
        for g in h["gate"]
        if g["kind"] != "decision"
    ]
    spans: dict[str, list[tuple[float, float]]] = {}  # one row per occurrence: per exclusion
    about: dict[str, dict[str, Any]] = {}
    for x in h["exclusions"]:
        spans.setdefault(x["id"], []).append((event_time(x["from"]), event_time(x["to"])))
        about[x["id"]] = x
    review.exclusions = [
        exclusion_line(x["kind"], x["comment"], spans[i], x.get("every") or "", x.get("by", ""))
        for i, x in about.items()
    ]
    return review


def from_replay(args: argparse.Namespace, cfg: Any) -> list[SloReview] | None:
    from streams.core.exclusions import read_exclusions
    from streams.replay.review import replay_review

    path = Path(args.events)
    if not path.is_file():
        print(f"report: {path}: no such file", file=sys.stderr)
        return None
    exclusions = []
    if args.exclusions:
        try:
            exclusions = read_exclusions(Path(args.exclusions))
        except (OSError, ValueError) as e:
            print(f"report: {args.exclusions}: {e}", file=sys.stderr)
            return None
    span = (event_time(args.start), event_time(args.end)) if args.start and args.end else None
    return replay_review(path, cfg, args.every, time.time(), exclusions, span)


def cmd_report(args: argparse.Namespace) -> int:
    from streams.config.model import Config
    from streams.export.report import html_report, markdown

    cfg = load(config_paths(args.config))
    assert isinstance(cfg, Config)
    if (args.start is None) != (args.end is None):
        print("report: --from and --to go together", file=sys.stderr)
        return 1
    rule = ReviewRule(parse_duration_s(args.review_span), args.lenient_below, args.chronic_at)
    if args.events:
        reviews = from_replay(args, cfg)
        if reviews is None:
            return 1
    else:
        try:
            reviews = from_worker(args, list(cfg.slos))
        except Refused:
            return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.md").write_text(markdown(reviews, rule))
    (out / "report.html").write_text(html_report(reviews, rule))
    flagged = [r.slo.id for r in reviews if r.recommendation(rule)[0]]
    print(f"{len(reviews)} SLOs reviewed, {len(flagged)} flagged: {out}/report.md, report.html")
    return 0


def add_parser(sub: Any) -> None:
    """The ``report`` command."""
    p = sub.add_parser(
        "report",
        help="SLO review report (Markdown and HTML) from a replay file or the worker's API",
    )
    p.add_argument("events", nargs="?", help="JSONL file of outcomes to replay (else: --url)")
    p.add_argument("--config", action="append", help="config file, repeatable")
    client_options(p)
    p.add_argument("--out", required=True, help="directory for report.md and report.html")
    p.add_argument("--range", help="from the worker: how far back (default: the SLO window)")
    p.add_argument("--from", dest="start", help="from a file: period start (ISO 8601 or unix s)")
    p.add_argument("--to", dest="end", help="from a file: period end (default: the file's)")
    p.add_argument("--every", type=int, default=300, help="replay: seconds between evaluations")
    p.add_argument("--exclusions", help="replay: GET /v1/exclusions output to honour")
    p.add_argument("--review-span", default="365d", help="history the review rule needs")
    p.add_argument(
        "--lenient-below",
        type=float,
        default=0.25,
        help="flag as lenient when no period spent this share of its budget",
    )
    p.add_argument(
        "--chronic-at",
        type=float,
        default=0.25,
        help="flag as chronic when this share of periods overspent",
    )
    p.set_defaults(fn=cmd_report)
