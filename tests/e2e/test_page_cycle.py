"""A scripted outage on a real broker (embedded and Apache Kafka) pages on PagerDuty once and
resolves once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from streams.core.alerts import dedup_key
from streams.local.demo import send_scenario
from streams.local.embedded_broker import EmbeddedBroker
from tests.e2e.conftest import Received, Worker, checkout_outage, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.brokers("embedded", "kafka")]


def test_outage_triggers_one_page_and_one_resolve_with_the_same_dedup_key(
    broker: EmbeddedBroker, receivers: Received, worker: Callable[..., Worker]
) -> None:
    w = worker()
    # 6h of healthy history, then a 120-s total outage: burn(1h) = 33x and burn(5m) > 14.4x
    # page; burn(6h) = 5.6x stays under 6x, so the 6h/30m page must not fire.
    sc = checkout_outage()
    asyncio.run(send_scenario(broker.bootstrap, sc, pace_s=0.1))

    def pd(action: str) -> list[dict]:
        return [
            r["body"]
            for r in receivers.snapshot()["pagerduty"]
            if r["body"]["event_action"] == action
        ]

    wait_for(lambda: len(pd("resolve")) >= 1, 90, "a PagerDuty resolve")
    time.sleep(3)  # anything sent twice would arrive now

    triggers, resolves = pd("trigger"), pd("resolve")
    assert len(triggers) == 1, triggers
    assert len(resolves) == 1, resolves
    expected_key = dedup_key("checkout-api:success_rate", "page_1h_5m", "page")
    assert triggers[0]["dedup_key"] == resolves[0]["dedup_key"] == expected_key
    assert triggers[0]["routing_key"] == "e2e-routing-key"
    assert triggers[0]["payload"]["severity"] == "critical"
    assert "checkout-api:success_rate" in triggers[0]["payload"]["summary"]

    pd_times = {r["body"]["event_action"]: r["at"] for r in receivers.snapshot()["pagerduty"]}
    assert pd_times["trigger"] < pd_times["resolve"]

    slack = [r["body"]["text"] for r in receivers.snapshot()["slack"]]
    page_msgs = [t for t in slack if "[PAGE]" in t]
    assert [t.split(":")[0] for t in page_msgs] == ["FIRING", "RESOLVED"], slack

    assert w.metric("sloburn_notifications_sent_total", receiver="pagerduty") == 2
    assert w.metric("sloburn_alert_firing", rule="page_1h_5m") == 0
