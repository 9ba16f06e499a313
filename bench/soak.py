"""Soak: sustained traffic through one worker on the embedded broker for a bounded time, sampling
the worker's RSS and consumer lag, to show memory stays flat while events keep flowing.

The worker keeps per SLO a bounded number of cells (base cells for the longest alert window,
roll-ups for the SLO window), so after warm-up its memory should depend on time, not traffic.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from streams.kafka import topics
from streams.local.demo import start_worker, stop_process, wait_healthy
from streams.local.embedded_broker import EmbeddedBroker, free_port

SERVICES = ("checkout-api", "search-api", "payment-gateway")  # the shipped config's services
OUTCOMES_PER_MESSAGE = 100


@dataclass(frozen=True)
class Sample:
    """One look at the worker: seconds since traffic began, RSS, lag and events accepted."""

    t: float
    rss_mib: float
    lag: int
    accepted: int


def rss_mib(pid: int) -> float:
    """Resident set size of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def scrape(web: str) -> tuple[int, int]:
    """(messages of lag over all topics, events accepted) from the worker's /metrics."""
    with urllib.request.urlopen(web + "/metrics", timeout=5) as r:
        text = r.read().decode()
    lag = accepted = 0.0
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name == "sloburn_consumer_lag_messages":
                lag += s.value
            elif s.name == "sloburn_events_accepted_total":
                accepted += s.value
    return int(lag), int(accepted)


def message(n: int, now: float, i: int) -> bytes:
    """``n`` outcomes of one service in one message; one in 2,000 fails."""
    service = SERVICES[i % len(SERVICES)]
    return orjson.dumps(
        [
            {
                "service": service,
                "ts": now,
                "status_code": 500 if (i * n + k) % 2000 == 0 else 200,
                "latency_ms": 20 + (k % 200),
            }
            for k in range(n)
        ]
    )


async def drive(bootstrap: str, seconds: float, rate: int, on_tick: Any) -> int:
    """Produce ``rate`` outcomes/s for ``seconds``; calls ``on_tick(elapsed)`` once a second."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=10)
    await producer.start()
    sent = i = 0
    per_tick = max(1, rate // OUTCOMES_PER_MESSAGE)
    try:
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < seconds:
            now = time.time()
            for _ in range(per_tick):
                svc = SERVICES[i % len(SERVICES)].encode()
                await producer.send(topics.OUTCOMES, message(OUTCOMES_PER_MESSAGE, now, i), key=svc)
                i += 1
            sent += per_tick * OUTCOMES_PER_MESSAGE
            await asyncio.to_thread(on_tick, elapsed)
            await asyncio.sleep(max(0.0, started + int(elapsed) + 1 - time.monotonic()))
        await producer.flush()
    finally:
        await producer.stop()
    return sent


def soak(config: list[str], seconds: float, rate: int, sample_every_s: int = 5) -> dict[str, Any]:
    """Run the soak and return its figures (``samples`` holds the series)."""
    with tempfile.TemporaryDirectory(prefix="sloburn-soak-") as tmp:
        broker = EmbeddedBroker(free_port(), log_file=Path(tmp) / "broker.log").start()
        port = free_port()
        proc = start_worker(config, broker.bootstrap, port, dict(os.environ), Path(tmp) / "w.log")
        web = f"http://127.0.0.1:{port}"
        samples: list[Sample] = []
        try:
            asyncio.run(wait_healthy(f"{web}/healthz", proc))

            def on_tick(elapsed: float) -> None:
                if int(elapsed) % sample_every_s == 0:
                    lag, accepted = scrape(web)
                    samples.append(Sample(round(elapsed), rss_mib(proc.pid), lag, accepted))

            sent = asyncio.run(drive(broker.bootstrap, seconds, rate, on_tick))
            deadline = time.monotonic() + 120
            while scrape(web)[1] < sent and time.monotonic() < deadline:
                time.sleep(0.5)
            lag, accepted = scrape(web)
            samples.append(Sample(round(seconds), rss_mib(proc.pid), lag, accepted))
        finally:
            stop_process(proc)
            broker.stop()
    warm = [s for s in samples if s.t >= min(30, seconds / 3)] or samples
    return {
        "seconds": seconds,
        "target_outcomes_per_s": rate,
        "outcomes_sent": sent,
        "outcomes_accepted": samples[-1].accepted,
        "rss_start_mib": round(samples[0].rss_mib, 1),
        "rss_after_warmup_mib": round(warm[0].rss_mib, 1),
        "rss_end_mib": round(samples[-1].rss_mib, 1),
        "rss_max_mib": round(max(s.rss_mib for s in samples), 1),
        "rss_growth_after_warmup_mib": round(samples[-1].rss_mib - warm[0].rss_mib, 1),
        "max_lag_messages": max(s.lag for s in samples),
        "samples": [[s.t, round(s.rss_mib, 1), s.lag, s.accepted] for s in samples],
    }
