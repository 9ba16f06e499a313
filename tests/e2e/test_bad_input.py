"""Bad input never stops the worker and never vanishes: each lands in the DLQ with its reason.

Produced with confluent-kafka (librdkafka), the client most services use, so ingestion is proven
with a client other than aiokafka.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable

import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from confluent_kafka import Producer

from streams.kafka import topics
from streams.local.embedded_broker import EmbeddedBroker
from tests.e2e.conftest import Received, Worker, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.brokers("embedded", "kafka")]
PROMTOOL = shutil.which("promtool")


def bad_messages(now: float) -> dict[str, bytes]:
    return {
        "invalid_json": b'{"service": "checkout-api", "ts": ',
        "missing_field": orjson.dumps({"ts": now, "status_code": 200}),
        "good_exceeds_total": orjson.dumps(
            {"service": "checkout-api", "ts": now, "good": 11, "total": 10}
        ),
        "negative_count": orjson.dumps(
            {"service": "checkout-api", "ts": now, "good": -1, "total": 10}
        ),
        "unknown_service": orjson.dumps({"service": "no-such-api", "ts": now, "status_code": 200}),
        "invalid_type": orjson.dumps(
            {"service": "checkout-api", "ts": now, "status_code": 200, "latency_ms": "fast"}
        ),
    }


async def read_dlq(bootstrap: str, want: int, timeout_s: float) -> list[dict]:
    consumer = AIOKafkaConsumer(
        topics.OUTCOMES_DLQ,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    out: list[dict] = []
    try:
        deadline = time.monotonic() + timeout_s
        while len(out) < want and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            out += [orjson.loads(m.value) for msgs in batch.values() for m in msgs]
    finally:
        await consumer.stop()
    return out


def test_each_bad_event_lands_in_the_dlq_with_a_distinct_reason_and_valid_ones_count(
    broker: EmbeddedBroker, receivers: Received, worker: Callable[..., Worker]
) -> None:
    w = worker()
    now = time.time()
    bad = bad_messages(now)
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
    valid_sent = 0
    for raw in bad.values():
        for i in range(3):  # valid events around every bad one
            ev = {"service": "checkout-api", "ts": now - 30 + valid_sent, "status_code": 200 + i}
            producer.produce(topics.OUTCOMES, orjson.dumps(ev), key=b"checkout-api")
            valid_sent += 1
        producer.produce(topics.OUTCOMES, raw, key=b"checkout-api")
    assert producer.flush(30) == 0

    dlq = asyncio.run(read_dlq(broker.bootstrap, len(bad), timeout_s=60))
    assert sorted(r["reason"] for r in dlq) == sorted(bad)
    by_reason = {r["reason"]: r for r in dlq}
    for reason, raw in bad.items():
        assert by_reason[reason]["raw"] == raw.decode(), reason
        assert by_reason[reason]["error"], reason

    wait_for(
        lambda: w.metric("sloburn_events_accepted_total") == valid_sent,
        30,
        "every valid event to be accepted",
    )
    assert w.metric("sloburn_events_rejected_total") == 6
    for reason in bad:
        assert w.metric("sloburn_events_rejected_total", reason=reason) == 1

    slo = "checkout-api:success_rate"
    wait_for(
        lambda: w.get(f"/v1/slos/{slo}").get("budget", {}).get("total") == valid_sent,
        30,
        "the valid events to be counted in the SLO window",
    )
    assert w.get(f"/v1/slos/{slo}")["budget"]["bad"] == 0
    assert w.get("/healthz")["status"] == "ok"

    # Faust's built-in pages (raw tables, routing) are not served.
    for path in ("/table/buckets/", "/router/", "/graph/", "/stats/"):
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(w.web + path, timeout=5)
        assert e.value.code == 404, path

    # The scrape follows Prometheus conventions (promtool's linter).
    wait_for(
        lambda: w.metric("sloburn_gate_decision", service="checkout-api") == 1,
        30,
        "the gate decision metric",
    )
    with urllib.request.urlopen(w.web + "/metrics", timeout=5) as r:
        scrape = r.read()
    for family in (
        "sloburn_error_budget_remaining_ratio",
        "sloburn_burn_rate",
        "sloburn_error_budget_time_to_exhaustion_seconds",
        "sloburn_gate_decision",
        "sloburn_consumer_lag_messages",
        "sloburn_events_rejected_total",
    ):
        assert f"# TYPE {family} ".encode() in scrape, family
    if PROMTOOL is None:
        pytest.skip("promtool not installed (scripts/test installs Debian's prometheus)")
    proc = subprocess.run(
        [PROMTOOL, "check", "metrics"], input=scrape, capture_output=True, timeout=60
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr).decode()
