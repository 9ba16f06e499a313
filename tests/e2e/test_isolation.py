"""A failure in any agent, on a real worker and broker: that one message is dead-lettered with
reason internal_error (its exception class named), every other message still counts or is
delivered, and the worker keeps running. Failures are injected with failpoints
(streams.runtime.failpoints), one per agent."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import time
from collections.abc import Callable

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from streams.kafka import topics
from streams.local.demo import send_scenario
from streams.local.embedded_broker import EmbeddedBroker
from streams.runtime.web_server import HEAD_TIMEOUT_S
from tests.e2e.conftest import (
    Received,
    Worker,
    checkout_outage,
    read_records,
    services_config,
    totals,
    wait_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.brokers("embedded", "kafka")]

FAILPOINTS = "ingest=POISON,windows=winfail-api,sink=sinkfail-api,rollback=sinkfail-api"
NOTIFY = """notifications:
  slack_webhook_url: ${SLACK_WEBHOOK_URL}
  pagerduty_routing_key: ${PAGERDUTY_ROUTING_KEY}
  pagerduty_events_url: ${PAGERDUTY_EVENTS_URL}
"""
NESTED = b"[" * 300 + b"]" * 300  # orjson reads it (depth < 1024) but cannot write it (> 254)


def outcome(service: str, ts: float, **extra: object) -> bytes:
    return orjson.dumps({"service": service, "ts": ts, "status_code": 200, **extra})


async def produce(bootstrap: str, messages: list[tuple[str, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for key, value in messages:
            await producer.send_and_wait(topics.OUTCOMES, value, key=key.encode())
    finally:
        await producer.stop()


def test_a_failure_in_any_agent_dead_letters_that_message_and_costs_no_other(
    broker: EmbeddedBroker, receivers: Received, worker: Callable[..., Worker]
) -> None:
    services = ["checkout-api", "ingest-api", "winfail-api", "sinkfail-api"]
    w = worker(services_config(services) + NOTIFY, SLOBURN_FAILPOINTS=FAILPOINTS)
    now = time.time()
    good = [outcome("ingest-api", now - 60 + i) for i in range(12)]
    asyncio.run(
        produce(
            broker.bootstrap,
            [
                # Two good outcomes beside an array nested 300 deep: both count.
                ("ingest-api", b"[" + good[0] + b"," + NESTED + b"," + good[1] + b"]"),
                # A message the ingest agent fails on: dead-lettered whole, nothing counted.
                (
                    "ingest-api",
                    b"[" + good[2] + b"," + outcome("ingest-api", now, route="POISON") + b"]",
                ),
                *(("ingest-api", g) for g in good[3:]),
                *(("winfail-api", outcome("winfail-api", now - 5)) for _ in range(3)),
            ],
        )
    )
    wait_for(lambda: totals(w).get("ingest-api") == (0, 11), 60, "ingest-api's 11 outcomes")

    # Pages for two services: the sink and rollback agents fail on sinkfail-api's alerts only.
    sc_ok = checkout_outage()
    sc_fail = dataclasses.replace(sc_ok, service="sinkfail-api")

    async def outages() -> None:
        await asyncio.gather(
            send_scenario(broker.bootstrap, sc_ok, pace_s=0.1),
            send_scenario(broker.bootstrap, sc_fail, pace_s=0.1),
        )

    asyncio.run(outages())

    def pd_services() -> set[str]:
        pd = receivers.snapshot()["pagerduty"]
        return {r["body"]["payload"]["source"] for r in pd if "payload" in r["body"]}

    wait_for(lambda: "checkout-api" in pd_services(), 90, "checkout-api's page")
    wait_for(
        lambda: all(
            w.metric("sloburn_internal_errors_total", agent=a) >= 1
            for a in ("ingest", "windows", "sink", "rollback")
        ),
        60,
        "an internal error counted in each agent",
    )
    assert w.proc.poll() is None and w.get("/healthz")
    assert pd_services() == {"checkout-api"}
    assert totals(w)["ingest-api"] == (0, 11)
    assert totals(w).get("winfail-api", (0, 0)) == (0, 0)

    dlq = [
        orjson.loads(v) for _, v in asyncio.run(read_records(broker.bootstrap, topics.OUTCOMES_DLQ))
    ]
    nested = [r for r in dlq if r["reason"] == "not_an_object"]
    assert len(nested) == 1 and nested[0]["rejected"] == 1
    assert nested[0]["rejections"][0]["index"] == 1
    internal = [r for r in dlq if r["reason"] == "internal_error"]
    by_topic = {r["topic"]: r for r in internal}
    assert set(by_topic) == {topics.OUTCOMES, topics.SLI}
    assert by_topic[topics.OUTCOMES]["error"] == "InjectedFault: failpoint ingest hit"
    assert "POISON" in by_topic[topics.OUTCOMES]["raw"]
    assert all("winfail-api" in r["raw"] for r in internal if r["topic"] == topics.SLI)

    notes = [
        orjson.loads(v)
        for _, v in asyncio.run(read_records(broker.bootstrap, topics.NOTIFICATIONS_DLQ))
    ]
    failed = [n for n in notes if n.get("reason") == "internal_error"]
    assert {n.get("agent", "sink") for n in failed} == {"sink", "rollback"}
    assert all("sinkfail-api" in n["raw"] for n in failed)
    assert all(n["error"].startswith("InjectedFault") for n in failed)

    # The worker's HTTP server closes a connection whose request head drips in.
    host, port = w.web.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\n")
        closed_after = None
        started = time.monotonic()
        for _ in range(int(HEAD_TIMEOUT_S) + 10):  # one header byte a second, bounded
            try:
                s.sendall(b"X")
                s.settimeout(1.0)
                if s.recv(1) == b"":
                    closed_after = time.monotonic() - started
                    break
            except TimeoutError:
                continue
            except OSError:
                closed_after = time.monotonic() - started
                break
        assert closed_after is not None, "a dripping request head kept its connection open"
