"""No secret leaves the worker: a full run (page, resolve, receiver errors, DLQ, override,
reload) and then every log line, metric, API response and topic record is searched for the
webhook URL, its secret path, the routing key and the API token."""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Callable

import pytest

from streams.kafka import topics
from streams.local.demo import send_scenario
from streams.local.embedded_broker import EmbeddedBroker
from streams.local.receivers import SLACK_PATH
from tests.e2e.conftest import E2E_CONFIG, Received, Worker, checkout_outage, read_records, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.brokers("embedded", "kafka")]

SLACK_SECRET = "T0SECRET/B0SECRET/xq7RkS3cretW3bhookPath"
ROUTING_KEY = "R0UT1NGK3Ysecret0123456789abcdef"
TOKEN = "t0k3n-s3cret-9f8e7d6c5b4a"


def test_no_secret_appears_in_logs_metrics_api_or_topics(
    broker: EmbeddedBroker, receivers: Received, worker: Callable[..., Worker]
) -> None:
    slack_url = receivers.env()["SLACK_WEBHOOK_URL"].replace(
        SLACK_PATH, f"{SLACK_PATH}/{SLACK_SECRET}"
    )
    w = worker(
        E2E_CONFIG,
        SLACK_WEBHOOK_URL=slack_url,
        PAGERDUTY_ROUTING_KEY=ROUTING_KEY,
        SLOBURN_API_TOKENS=f"ops:{TOKEN}",
    )
    # Error paths too: Slack refuses the first message for good (-> DLQ), PagerDuty answers
    # 500 once (-> retry), then both accept.
    receivers.rt.call(receivers.rt.receivers.fail_next, "slack", 404)
    receivers.rt.call(receivers.rt.receivers.fail_next, "pagerduty", 500)
    sc = checkout_outage()
    asyncio.run(send_scenario(broker.bootstrap, sc, pace_s=0.1))
    wait_for(
        lambda: any(
            r["body"]["event_action"] == "resolve" for r in receivers.snapshot()["pagerduty"]
        ),
        90,
        "the page to resolve",
    )
    assert w.metric("sloburn_notification_failures_total", receiver="slack") == 1
    assert (
        w.post("/v1/gate/checkout-api/override", {"reason": "r", "expires_in_seconds": 60}, TOKEN)[
            0
        ]
        == 201
    )
    assert w.post("/v1/reload", {}, TOKEN)[0] == 200
    assert w.post("/v1/reload", {}, TOKEN + "x")[0] == 401

    surfaces: dict[str, bytes] = {}
    for path in (
        "/",
        "/metrics",
        "/healthz",
        "/v1/slos",
        "/v1/slos/checkout-api:success_rate",
        "/v1/slos/checkout-api:success_rate/burndown",
        "/v1/gate/checkout-api",
    ):
        with urllib.request.urlopen(w.web + path, timeout=10) as r:
            surfaces[path] = r.read()
    for topic in topics.ALL:
        records = asyncio.run(read_records(broker.bootstrap, topic, settle_s=1.0))
        surfaces[topic] = b"\n".join((k or b"") + b" " + v for k, v in records)
    w.stop()
    surfaces["worker log"] = w.log.read_bytes()
    assert surfaces[topics.NOTIFICATIONS_DLQ], "the refused Slack message must be in the DLQ"

    secrets = [slack_url, SLACK_SECRET, "xq7RkS3cretW3bhookPath", ROUTING_KEY, TOKEN]
    leaks = [(where, s) for where, text in surfaces.items() for s in secrets if s.encode() in text]
    assert leaks == []
