"""The worker's own page, in headless Chromium: the fleet list shows /v1/fleet's numbers, sorted
and filtered as its URL says, and links to each SLO's detail, which shows /v1/slos' numbers and
draws the burn-down chart. Saves screenshots under tests/artifacts/ (git-ignored)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import pytest

from streams.local.browser import CHROMIUM, chromium
from streams.local.demo import send_scenario
from streams.local.embedded_broker import EmbeddedBroker
from tests.conftest import sloburn
from tests.e2e.conftest import Received, Worker, checkout_outage, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.brokers("embedded", "kafka")]

TOKEN = "tok-page-7c1d"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CONFIG = """
services:
  checkout-api:
    sli_type: success_rate
    target: 0.999
    window_days: 30
  search-api:
    sli_type: latency
    target: 0.99
    window_days: 28
    latency_threshold_ms: 300
settings:
  partitions: 4
"""


class Cards(HTMLParser):
    """What the page shows per SLO: remaining-budget text and the chart's point count."""

    def __init__(self) -> None:
        super().__init__()
        self.slo: str | None = None
        self.capture: str | None = None
        self.shown: dict[str, dict[str, str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section" and a.get("data-slo"):
            self.slo = a["data-slo"]
            self.shown[self.slo] = {}
        elif self.slo and a.get("data-testid") in ("remaining", "decision"):
            self.capture = a["data-testid"]
        elif self.slo and tag == "path" and a.get("data-points"):
            self.shown[self.slo]["chart_points"] = a["data-points"] or ""

    def handle_data(self, data: str) -> None:
        if self.slo and self.capture:
            self.shown[self.slo][self.capture] = data.strip()
            self.capture = None


class Rows(HTMLParser):
    """The fleet list's rows, in order: SLO id, each cell's data-value, the SLO's link."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, list[str], str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "tr" and a.get("data-slo"):
            self.rows.append((a["data-slo"] or "", [], ""))
        elif self.rows and tag == "td":
            self.rows[-1][1].append(a.get("data-value") or "")
        elif self.rows and tag == "a" and a.get("href", "").startswith("/slo?"):
            slo, cells, _ = self.rows[-1]
            self.rows[-1] = (slo, cells, a["href"] or "")


class Detail(HTMLParser):
    """The detail page's history: range links, each chart's lines (values as drawn), its
    threshold lines, alert marks and hatched exclusions, and each table's row count."""

    def __init__(self) -> None:
        super().__init__()
        self.ranges: list[str] = []
        self.current: str | None = None
        self.chart: str | None = None
        self.series: dict[str, dict[str, list[float | None]]] = {}
        self.thresholds: dict[str, list[float]] = {}
        self.marks: dict[str, int] = {}
        self.excluded: dict[str, int] = {}
        self.table: str | None = None
        self.table_rows: dict[str, int] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and "data-range" in a:
            self.ranges.append(a["data-range"])
            if "aria-current" in a:
                self.current = a["data-range"]
        elif tag == "svg" and "data-testid" in a:
            self.chart = a["data-testid"]
        elif self.chart and tag == "path" and "data-series" in a:
            values = orjson.loads(a["data-values"])
            self.series.setdefault(self.chart, {})[a["data-series"]] = values
        elif self.chart and tag == "line" and "data-threshold" in a:
            self.thresholds.setdefault(self.chart, []).append(float(a["data-threshold"]))
        elif self.chart and tag == "text" and "data-alert" in a:
            self.marks[self.chart] = self.marks.get(self.chart, 0) + 1
        elif self.chart and tag == "rect" and "data-excluded" in a:
            self.excluded[self.chart] = self.excluded.get(self.chart, 0) + 1
        elif tag == "table" and "data-testid" in a:
            self.table = a["data-testid"]
            self.table_rows[self.table] = -1  # the header row
        elif tag == "tr" and self.table:
            self.table_rows[self.table] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self.chart = None
        elif tag == "table":
            self.table = None


def drawn(h: dict[str, Any]) -> dict[str, dict[str, list[float | None]]]:
    """The lines the detail page must draw from a /history answer."""
    pts = h["points"]
    return {
        "burn": {w: [p["burn"][w] for p in pts] for w in h["windows"]},
        "errors": {"error ratio": [p["error_ratio"] for p in pts]},
        "rate": {"req/s": [p["rate_per_s"] for p in pts]},
    }


def detail(w: Worker, slo: str, range_: str) -> tuple[Detail, dict[str, Any]]:
    """The detail page at a range, and the /history answer it drew (the evaluation may move
    on while Chromium runs: the answer before or the one after)."""
    api = f"/v1/slos/{slo}/history?range={range_}"
    before = w.get(api)
    page = Detail()
    page.feed(chromium(f"{w.web}/slo?id={quote(slo)}&range={range_}", "--dump-dom"))
    after = w.get(api)
    shown = {k: v for k, v in page.series.items() if k != "burndown"}
    assert shown in (drawn(before), drawn(after)), "the charts do not draw /history's numbers"
    return page, before if shown == drawn(before) else after


def rows(url: str) -> list[tuple[str, list[str], str]]:
    parser = Rows()
    parser.feed(chromium(url, "--dump-dom"))
    return parser.rows


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (scripts/test installs it)")
def test_the_fleet_list_sorts_filters_and_links_to_a_detail_with_the_api_numbers(
    broker: EmbeddedBroker, receivers: Received, worker: Callable[..., Worker], tmp_path: Path
) -> None:
    w = worker(CONFIG, SLOBURN_API_TOKENS=f"oncall:{TOKEN}")
    # Five minutes of outage at 0.1 s a 10-s bucket: three seconds of wall time, so the
    # evaluator (a tick a second) sees the outage while it lasts and the page fires.
    sc = checkout_outage(2 * 86400, 10 * 60, 120, 300)
    asyncio.run(send_scenario(broker.bootstrap, sc, pace_s=0.1))
    seen: list[tuple[int, int]] = []

    def settled() -> bool:
        # Every event counted: the outage's 1,800 failures are in and the totals stopped moving.
        b = w.get("/v1/slos/checkout-api:success_rate").get("budget", {})
        seen.append((b.get("bad", 0), b.get("total", 0)))
        return seen[-1][0] >= 1800 and len(seen) > 8 and seen[-1] == seen[-8]

    wait_for(settled, 90, "the outage to be counted")

    fleet = {r["id"]: r for r in w.get("/v1/fleet")["slos"]}
    listed = rows(w.web + "/?sort=remaining&dir=asc")
    assert [slo for slo, _, _ in listed] == ["checkout-api:success_rate", "search-api:latency"]
    remaining = {slo: cells[3] for slo, cells, _ in listed}
    checkout = fleet["checkout-api:success_rate"]
    assert float(remaining["checkout-api:success_rate"]) == checkout["remaining"]
    assert remaining["search-api:latency"] == ""  # no data: listed last, whichever the order
    assert len(checkout["spark"]) == 25 and checkout["spark"][-1] == checkout["remaining"]
    by_service = rows(w.web + "/?service=search-api")
    assert [slo for slo, _, _ in by_service] == ["search-api:latency"]
    assert [slo for slo, _, _ in rows(w.web + "/?q=CHECKOUT&sort=slo&dir=desc")] == [
        "checkout-api:success_rate"
    ]
    assert [slo for slo, _, _ in rows(w.web + "/?sort=slo&dir=desc")] == [
        "search-api:latency",
        "checkout-api:success_rate",
    ]

    # The list links to each SLO's detail: its numbers and its burn-down.
    link = dict((slo, href) for slo, _, href in listed)["checkout-api:success_rate"]
    dom = chromium(w.web + link, "--dump-dom")
    api = w.get("/v1/slos/checkout-api:success_rate")
    cards = Cards()
    cards.feed(dom)
    assert set(cards.shown) == {"checkout-api:success_rate"}
    shown = cards.shown["checkout-api:success_rate"]
    assert shown["remaining"] == f"{api['budget']['remaining'] * 100:.2f}%"
    assert int(shown["chart_points"]) >= 48  # two days of hourly burn-down points
    assert shown["decision"] == w.get("/v1/gate/checkout-api")["decision"].replace("_", " ")

    # The detail's history: the range picker, charts drawn with /history's numbers, the
    # rules' thresholds, the page that fired and resolved, the gate's changes.
    slo = "checkout-api:success_rate"

    def timeline() -> list[dict[str, Any]]:
        return list(w.get(f"/v1/slos/{slo}/history?range=6h")["alerts"])

    wait_for(lambda: any(a["state"] == "firing" for a in timeline()), 30, "the page's record")
    page, h = detail(w, slo, "6h")
    assert page.ranges == ["1h", "6h", "1d", "3d", "7d", "30d"] and page.current == "6h"
    assert h["step_s"] == 180 and len(h["points"]) == 121
    rules = w.get(f"/v1/slos/{slo}")["alerts"]
    assert sorted(page.thresholds["burn"]) == sorted(r["threshold"] for r in rules)
    fired = [a for a in h["alerts"] if a["state"] == "firing" and a["severity"] == "page"]
    assert fired and all(a["held"] is None for a in fired)
    assert page.marks["burn"] == len(h["alerts"]) == page.table_rows["alerts"]
    assert h["gate"] and page.table_rows["gate"] == len(h["gate"])
    assert h["gate"][-1]["to"] == w.get("/v1/gate/checkout-api")["decision"]
    short, _ = detail(w, slo, "1h")
    assert short.current == "1h"

    # A maintenance hour three hours back: hatched on every chart, its steps left out.
    start = sc.end - 3 * 3600 - 3600 % 180
    body = {"kind": "maintenance", "matchers": {"slo": slo}, "starts_at": start,
            "ends_at": start + 3600, "comment": "db failover drill"}  # fmt: skip
    assert w.post("/v1/exclusions", body, TOKEN)[0] == 201
    wait_for(lambda: w.get(f"/v1/slos/{slo}/history?range=6h")["exclusions"], 30, "exclusion")
    page, h = detail(w, slo, "6h")
    assert all(page.excluded.get(c) == 1 for c in ("burndown", "burn", "errors", "rate"))
    (x,) = h["exclusions"]
    lo, hi = datetime.fromisoformat(x["from"]), datetime.fromisoformat(x["to"])
    inside = [p for p in h["points"] if lo < datetime.fromisoformat(p["at"]) <= hi]
    assert len(inside) >= 18 and all(p["total"] == 0 for p in inside[1:])
    assert page.table_rows["exclusions"] == 1

    # The review report from the worker's API: the page's incident, the gate, the exclusion.
    (tmp_path / "c.yaml").write_text(CONFIG)
    out = tmp_path / "report"
    args = ("report", "--url", w.web, "--config", str(tmp_path / "c.yaml"), "--range", "6h")
    proc = sloburn(*args, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    md = (out / "report.md").read_text()
    first = min(a["at"] for a in fired)
    assert f"| {first[:16].replace('T', ' ')} UTC |" in md
    assert 'maintenance "db failover drill"' in md
    assert "| rollback |" in md or "| block |" in md or "| signoff |" in md
    assert "data-slo='checkout-api:success_rate'" in (out / "report.html").read_text()

    ARTIFACTS.mkdir(exist_ok=True)
    for name, path, size in (("page.png", "/", "1280,1000"),
                             ("slo.png", link + "&range=6h", "1280,2350")):  # fmt: skip
        shot = ARTIFACTS / name
        shot.unlink(missing_ok=True)
        chromium(w.web + path, f"--screenshot={shot}", f"--window-size={size}")
        assert shot.stat().st_size > 10_000
