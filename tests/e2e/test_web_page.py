"""The worker's own page, in headless Chromium: the fleet list shows /v1/fleet's numbers, sorted
and filtered as its URL says, and links to each SLO's detail, which shows /v1/slos' numbers and
draws the burn-down chart. Saves screenshots under tests/artifacts/ (git-ignored)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pytest

from streams.local.browser import CHROMIUM, chromium
from streams.local.demo import send_scenario
from streams.local.embedded_broker import EmbeddedBroker
from tests.e2e.conftest import Received, Worker, checkout_outage, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.brokers("embedded", "kafka")]

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


def rows(url: str) -> list[tuple[str, list[str], str]]:
    parser = Rows()
    parser.feed(chromium(url, "--dump-dom"))
    return parser.rows


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (scripts/test installs it)")
def test_the_fleet_list_sorts_filters_and_links_to_a_detail_with_the_api_numbers(
    broker: EmbeddedBroker, receivers: Received, worker: Callable[..., Worker]
) -> None:
    w = worker(CONFIG)
    sc = checkout_outage(2 * 86400, 10 * 60, 120, 120)
    asyncio.run(send_scenario(broker.bootstrap, sc, pace_s=0.02))
    seen: list[tuple[int, int]] = []

    def settled() -> bool:
        # Every event counted: the outage's 720 failures are in and the totals stopped moving.
        b = w.get("/v1/slos/checkout-api:success_rate").get("budget", {})
        seen.append((b.get("bad", 0), b.get("total", 0)))
        return seen[-1][0] >= 720 and len(seen) > 8 and seen[-1] == seen[-8]

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

    ARTIFACTS.mkdir(exist_ok=True)
    for name, path in (("page.png", "/"), ("slo.png", link)):
        shot = ARTIFACTS / name
        shot.unlink(missing_ok=True)
        chromium(w.web + path, f"--screenshot={shot}")
        assert shot.stat().st_size > 10_000
