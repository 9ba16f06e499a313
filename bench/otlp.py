"""``scripts/bench otlp``: spans per second one ``sloburn otlp`` process takes over HTTP and
produces to Kafka (protobuf, 512 spans per request, as the Collector's batch processor sends
them), next to the ceiling: a bare protobuf decode of the same requests with the same library.

The load generator, the receiver and the embedded broker share this machine's cores; the
in-process conversion (decode, judge, pre-count, encode; no HTTP, no Kafka) is reported too,
to show where the time goes.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from streams.config.loading import load_config
from streams.ingest.otlp_wire import decode_traces
from streams.ingest.spans import count_spans
from streams.local.demo import stop_process, wait_healthy
from streams.local.embedded_broker import EmbeddedBroker, free_port
from streams.local.traffic import fleet_config

SERVICES = [f"svc-{i:02d}" for i in range(20)]
SPANS_PER_REQUEST = 512
ROUTES = ("GET /items", "POST /pay", "GET /search", "PUT /cart")


def make_requests(n: int, now: float) -> list[bytes]:
    """``n`` requests of 512 SERVER spans from 4 services each, with the attributes an HTTP
    server instrumentation sets (1 % 5xx)."""
    out = []
    for r in range(n):
        req = ExportTraceServiceRequest()
        for k in range(4):
            rs = req.resource_spans.add()
            service = SERVICES[(r * 4 + k) % len(SERVICES)]
            rs.resource.attributes.add(key="service.name").value.string_value = service
            rs.resource.attributes.add(key="host.name").value.string_value = f"host-{r % 7}"
            ss = rs.scope_spans.add()
            ss.scope.name = "opentelemetry.instrumentation.aiohttp_server"
            for i in range(SPANS_PER_REQUEST // 4):
                method, route = ROUTES[i % len(ROUTES)].split(" ")
                s = ss.spans.add(name=f"{method} {route}", kind=2)
                s.trace_id, s.span_id = os.urandom(16), os.urandom(8)
                s.end_time_unix_nano = int((now - 2 + i / 1000) * 1e9)
                s.start_time_unix_nano = s.end_time_unix_nano - 4_000_000
                code = 503 if (r + i) % 100 == 0 else 200
                attrs = [
                    ("http.request.method", method),
                    ("http.route", route),
                    ("url.scheme", "http"),
                    ("server.address", "shop.internal"),
                    ("network.protocol.version", "1.1"),
                    ("user_agent.original", "okhttp/4.12"),
                ]
                for key, value in attrs:
                    s.attributes.add(key=key).value.string_value = value
                s.attributes.add(key="http.response.status_code").value.int_value = code
                s.attributes.add(key="server.port").value.int_value = 8080
                if code >= 500:
                    s.status.code = 2
        out.append(req.SerializeToString())
    return out


def _rate(fn: Any, bodies: list[bytes], seconds: float = 3.0) -> float:
    """Spans per second of ``fn`` over the bodies, repeated for about ``seconds``."""
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for b in bodies:
            fn(b)
            done += SPANS_PER_REQUEST
    return done / (time.perf_counter() - started)


async def _load(url: str, bodies: list[bytes], seconds: float, concurrency: int) -> dict[str, Any]:
    """POST the bodies round-robin from ``concurrency`` clients for ``seconds``."""
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    stop_at = time.monotonic() + seconds
    headers = {"Content-Type": "application/x-protobuf"}

    async def client(k: int, s: aiohttp.ClientSession) -> None:
        i = k
        while time.monotonic() < stop_at:
            t = time.perf_counter()
            async with s.post(url, data=bodies[i % len(bodies)], headers=headers) as r:
                await r.read()
                statuses[r.status] = statuses.get(r.status, 0) + 1
            latencies.append(time.perf_counter() - t)
            i += concurrency

    started = time.perf_counter()
    async with aiohttp.ClientSession() as s:
        await asyncio.gather(*(client(k, s) for k in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "http_spans_per_second": round(statuses.get(200, 0) * SPANS_PER_REQUEST / elapsed),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "request_p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
        "request_p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 1),
    }


def bench_otlp(workdir: Path, seconds: float = 20.0, concurrency: int = 8) -> dict[str, Any]:
    """The figures of one ``sloburn otlp`` process on the embedded broker."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "otlp-bench.yaml"
    config.write_text(fleet_config(SERVICES, tail="settings:\n  partitions: 4\n"))
    cfg = load_config([config])
    now = time.time()
    bodies = make_requests(40, now)

    def bare(b: bytes) -> None:
        ExportTraceServiceRequest().ParseFromString(b)

    def convert(b: bytes) -> None:
        count_spans(decode_traces(b, "proto"), cfg, now).outcomes()

    ceiling, in_process = _rate(bare, bodies), _rate(convert, bodies)
    broker = EmbeddedBroker(free_port(), log_file=workdir / "otlp-broker.log").start()
    port = free_port()
    log = (workdir / "otlp-receiver.log").open("wb")
    cmd = [sys.executable, "-m", "streams.cli", "otlp", "--config", str(config)]
    proc = subprocess.Popen(
        [*cmd, "--broker", broker.bootstrap, "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        asyncio.run(wait_healthy(f"http://127.0.0.1:{port}/healthz", proc, timeout_s=60))
        url = f"http://127.0.0.1:{port}/v1/traces"
        asyncio.run(_load(url, bodies, 3.0, concurrency))  # warm-up: topics, connections
        http = asyncio.run(_load(url, bodies, seconds, concurrency))
    finally:
        stop_process(proc)
        log.close()
        broker.stop()
    return {
        "spans_per_request": SPANS_PER_REQUEST,
        "request_bytes": len(bodies[0]),
        "concurrency": concurrency,
        "seconds": seconds,
        **http,
        "convert_spans_per_second": round(in_process),
        "bare_decode_spans_per_second": round(ceiling),
        "http_ratio_to_bare_decode": round(http["http_spans_per_second"] / ceiling, 3),
        "convert_ratio_to_bare_decode": round(in_process / ceiling, 3),
    }
