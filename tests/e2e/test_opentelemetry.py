"""OpenTelemetry in, pages out: a service instrumented with the real OpenTelemetry SDK exports
its spans over OTLP/HTTP to ``sloburn otlp``, and the Collector's Kafka-exporter payloads are
counted exactly across a worker kill -9."""

from __future__ import annotations

import asyncio
import gzip
import os
import random
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from streams.local.demo import stop_process, wait_healthy
from streams.local.embedded_broker import EmbeddedBroker, free_port
from tests.e2e.conftest import Received, Worker, topic_counts, totals, wait_equal, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.brokers("embedded", "kafka")]

RECEIVERS = """
notifications:
  slack_webhook_url: ${SLACK_WEBHOOK_URL}
  pagerduty_routing_key: ${PAGERDUTY_ROUTING_KEY}
  pagerduty_events_url: ${PAGERDUTY_EVENTS_URL}
settings:
  partitions: 4
"""
SHOP = (
    """
services:
  checkout-api:
    sli_type: success_rate
    target: 0.999
    window_days: 30
    operations: ["POST /pay"]
  search-api:
    sli_type: latency
    target: 0.99
    window_days: 30
    latency_threshold_ms: 250
"""
    + RECEIVERS
)


class Shop:
    """Two small HTTP services, each instrumented with the OpenTelemetry SDK as an application
    would be (SERVER span per request, HTTP semantic conventions, ERROR on 5xx), exporting
    with the OTLP/HTTP protobuf exporter. ``fail`` and ``slow`` say which requests misbehave."""

    def __init__(self, otlp_endpoint: str) -> None:
        self.providers: dict[str, TracerProvider] = {}
        self.servers: dict[str, ThreadingHTTPServer] = {}
        for service in ("checkout-api", "search-api"):
            provider = TracerProvider(resource=Resource.create({"service.name": service}))
            exporter = OTLPSpanExporter(endpoint=otlp_endpoint, timeout=10)
            provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=500))
            self.providers[service] = provider
            self.servers[service] = self._serve(provider.get_tracer("shop"))

    def _serve(self, tracer: Any) -> ThreadingHTTPServer:
        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                method, route = self.command, self.path.split("?", 1)[0]
                with tracer.start_as_current_span(f"{method} {route}", kind=SpanKind.SERVER) as s:
                    s.set_attribute("http.request.method", method)
                    s.set_attribute("http.route", route)
                    code = 503 if "fail" in self.path else 200
                    if "slow" in self.path:
                        time.sleep(0.3)
                    s.set_attribute("http.response.status_code", code)
                    if code >= 500:
                        s.set_status(Status(StatusCode.ERROR))
                    self.send_response(code)
                    self.send_header("Content-Length", "0")
                    self.end_headers()

            do_GET = do_POST = _handle

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    def request(self, service: str, method: str, path: str) -> int:
        port = self.servers[service].server_address[1]
        req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method, data=b"")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return int(r.status)
        except urllib.error.HTTPError as e:
            return int(e.code)

    def stop(self) -> None:
        for provider in self.providers.values():
            provider.force_flush(30_000)
            provider.shutdown()
        for server in self.servers.values():
            server.shutdown()


@pytest.fixture
def otlp_receiver(
    tmp_path: Path, broker: EmbeddedBroker, receivers: Received
) -> Iterator[Callable[[str], str]]:
    """``sloburn otlp`` as a child process; the URL of its /v1/traces."""
    procs: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(config_text: str) -> str:
        cfg, log = tmp_path / "otlp.yaml", tmp_path / "otlp.log"
        cfg.write_text(config_text)
        port = free_port()
        cmd = [sys.executable, "-m", "streams.cli", "otlp", "--config", str(cfg)]
        cmd += ["--broker", broker.bootstrap, "--port", str(port)]
        with log.open("wb") as out:
            proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **receivers.env()},
                start_new_session=True,
            )
        procs.append((proc, log))
        asyncio.run(wait_healthy(f"http://127.0.0.1:{port}/healthz", proc, timeout_s=60))
        return f"http://127.0.0.1:{port}/v1/traces"

    try:
        yield start
    finally:
        for proc, log in procs:
            stop_process(proc)
            print(f"--- {log.name} ---", log.read_text(errors="replace")[-4000:], sep="\n")


def pay_spans(n: int, failed: int) -> ExportTraceServiceRequest:
    """``n`` POST /pay server spans of checkout-api that ended 5 s ago, ``failed`` of them 500."""
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.add(key="service.name").value.string_value = "checkout-api"
    ss = rs.scope_spans.add()
    end = int((time.time() - 5) * 1e9)
    for i in range(n):
        s = ss.spans.add(name="POST /pay", kind=2, end_time_unix_nano=end)
        s.start_time_unix_nano = end - 1_000_000
        s.attributes.add(key="http.response.status_code").value.int_value = (
            500 if i < failed else 200
        )
    return req


def post(url: str, body: bytes, content_type: str, gzipped: bool = False) -> tuple[int, bytes]:
    headers = {"Content-Type": content_type}
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return int(r.status), r.read()
    except urllib.error.HTTPError as e:
        return int(e.code), e.read()


def test_an_instrumented_service_pages_through_sloburn_otlp(
    broker: EmbeddedBroker,
    receivers: Received,
    worker: Callable[..., Worker],
    otlp_receiver: Callable[[str], str],
) -> None:
    w = worker(SHOP)
    url = otlp_receiver(SHOP)
    shop = Shop(url)
    made = {"pay": 0, "pay_failed": 0, "search": 0, "search_slow": 0}
    try:
        for i in range(300):
            failed = i % 10 == 3  # 30 injected 503s
            shop.request("checkout-api", "POST", "/pay?fail" if failed else "/pay")
            made["pay"] += 1
            made["pay_failed"] += failed
            if i % 5 == 0:
                shop.request("checkout-api", "GET", "/health")  # not an operation of the SLO
            if i % 6 == 0:
                slow = i % 24 == 0
                shop.request("search-api", "GET", "/search?slow" if slow else "/search")
                made["search"] += 1
                made["search_slow"] += slow
        # Hostile requests on the same receiver: clear answers, nothing counted, still up.
        body = ExportTraceServiceRequest().SerializeToString() + b"\x0a\xff\xff\xff"
        assert post(url, body, "application/x-protobuf")[0] == 400
        assert post(url, b"{}", "text/plain")[0] == 415
        bomb = gzip.compress(b"\x0a" + b"\x00" * (30 * 2**20))
        assert post(url, bomb, "application/x-protobuf", gzipped=True)[0] == 413
    finally:
        shop.stop()
    # The worker's own /v1/traces, as a small setup uses it: OTLP JSON, gzipped.
    body = gzip.compress(json_format.MessageToJson(pay_spans(40, failed=4)).encode())
    assert post(w.web + "/v1/traces", body, "application/json", gzipped=True) == (200, b"{}")
    made["pay"] += 40
    made["pay_failed"] += 4

    want = {
        "checkout-api": (made["pay_failed"], made["pay"]),
        "search-api": (made["search_slow"], made["search"]),
    }
    wait_equal(lambda: totals(w), want, 60, "every request to be counted once")

    def paged() -> set[str]:
        return {
            r["body"]["payload"]["custom_details"]["slo"]
            for r in receivers.snapshot()["pagerduty"]
            if r["body"]["event_action"] == "trigger"
        }

    wait_for(lambda: len(paged()) == 2, 60, "a page for each SLO")
    assert paged() == {"checkout-api:success_rate", "search-api:latency"}
    for s in w.get("/v1/slos")["slos"]:
        bad, total = want[s["service"]]
        budget = 0.001 if s["service"] == "checkout-api" else 0.01
        assert s["budget"]["remaining"] == pytest.approx(1 - bad / (budget * total), rel=1e-9)


def collector_message(
    rng: random.Random, services: list[str], now: float
) -> tuple[bytes, dict[str, list[int]]]:
    """An ExportTraceServiceRequest as the Collector's Kafka exporter writes it (otlp_proto),
    and (bad, total) per service it holds."""
    req = ExportTraceServiceRequest()
    held: dict[str, list[int]] = {}
    for service in services:
        rs = req.resource_spans.add()
        rs.resource.attributes.add(key="service.name").value.string_value = service
        ss = rs.scope_spans.add()
        for _ in range(rng.randint(1, 12)):
            s = ss.spans.add(name="GET /items", kind=rng.choice([2, 2, 2, 3]))
            s.trace_id, s.span_id = rng.randbytes(16), rng.randbytes(8)
            s.end_time_unix_nano = int((now - rng.uniform(0, 30)) * 1e9)
            s.start_time_unix_nano = s.end_time_unix_nano - 5_000_000
            code = 500 if rng.random() < 0.05 else 200
            s.attributes.add(key="http.response.status_code").value.int_value = code
            if s.kind == 2:
                cell = held.setdefault(service, [0, 0])
                cell[0] += code == 500
                cell[1] += 1
    return req.SerializeToString(), held


def server_spans_of(raw: bytes) -> Iterator[tuple[str, bool]]:
    """(service, bad) of each SERVER span of a Collector message (none for the test's one
    undecodable payload)."""
    try:
        req = ExportTraceServiceRequest.FromString(raw)
    except DecodeError:
        return
    for rs in req.resource_spans:
        service = rs.resource.attributes[0].value.string_value
        for s in rs.scope_spans[0].spans:
            if s.kind == 2:
                yield service, s.attributes[0].value.int_value == 500


def test_collector_kafka_payloads_count_exactly_across_kill_9(
    broker: EmbeddedBroker, receivers: Received, worker: Callable[..., Worker]
) -> None:
    services = [f"api-{i}" for i in range(6)]
    config = "services:\n" + "".join(
        f"  {s}:\n    sli_type: success_rate\n    target: 0.99\n    window_days: 7\n"
        for s in services
    )
    config += (
        RECEIVERS + "otlp:\n  kafka_topics:\n    - topic: otlp_spans\n      encoding: otlp_proto\n"
    )
    rng = random.Random(20261129)
    w = worker(config)
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
    sent, now = 0, time.time()
    for chunk in range(6):
        for _ in range(400):
            raw, _held = collector_message(rng, rng.sample(services, 2), now)
            producer.produce("otlp_spans", raw)  # the exporter's default: no key
            sent += 1
        assert producer.flush(30) == 0
        if chunk in (1, 3):
            time.sleep(rng.uniform(0.05, 0.8))  # mid-stream, often mid-batch
            w.kill9()
            w = worker(config)
    producer.produce("otlp_spans", b"\x0a\xff\xff\xff not protobuf")  # dead-lettered, no harm
    assert producer.flush(30) == 0
    want = asyncio.run(topic_counts(broker.bootstrap, "otlp_spans", sent, server_spans_of))
    wait_equal(
        lambda: {s: c for s, c in totals(w).items() if c != (0, 0)},
        want,
        120,
        "every span counted once",
    )
    time.sleep(3)  # anything counted twice would show up now
    assert {s: c for s, c in totals(w).items() if c != (0, 0)} == want
    wait_for(
        lambda: w.metric("sloburn_events_rejected_total", reason="invalid_otlp") == 1,
        30,
        "the bad payload dead-lettered",
    )
    assert w.metric("sloburn_otlp_spans_total", result="not_a_request") > 0
