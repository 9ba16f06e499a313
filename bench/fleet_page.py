"""The fleet list with 2,000 SLOs (a tenth with an hour of traffic): how long ``GET /v1/fleet``
takes, and the time to a usable page in headless Chromium: from navigation start until the
list is drawn, by the page's own clock (``performance.now()``, read over DevTools; five fresh
browsers). The older measure, the browser's wall time on the list minus its wall time on an
empty page, is kept beside it: it varied by 0.7 s between runs."""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from streams.kafka import topics
from streams.local.browser import chromium, ready_ms
from streams.local.demo import start_worker, stop_process, wait_healthy
from streams.local.embedded_broker import EmbeddedBroker, free_port
from streams.local.traffic import fleet_config

BUDGET_MS = 5000  # virtual time for the page's scripts; the list refreshes every 10 s


async def _history(bootstrap: str, services: list[str], now: float) -> int:
    """An hour of pre-counted traffic per service, a minute per event; a few bad minutes."""
    p = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await p.start()
    try:
        for i, s in enumerate(services):
            for m in range(60):
                bad = 30 if (i % 7 == 0 and m > 50) else 0
                ev = {"service": s, "ts": now - 3600 + m * 60, "good": 600 - bad, "total": 600}
                await p.send(topics.OUTCOMES, orjson.dumps(ev), key=s.encode())
        await p.flush()
    finally:
        await p.stop()
    return len(services) * 60


def _fleet(web: str) -> tuple[float, list[dict[str, Any]], int]:
    started = time.perf_counter()
    with urllib.request.urlopen(web + "/v1/fleet", timeout=30) as r:
        body = r.read()
    return time.perf_counter() - started, orjson.loads(body)["slos"], len(body)


def _browser_s(url: str) -> float:
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        chromium(url, "--dump-dom", budget_ms=BUDGET_MS)
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def bench_fleet_page(n: int = 2000) -> dict[str, Any]:
    """Seconds to answer /v1/fleet and to a usable list page, with ``n`` SLOs."""
    services = [f"svc-{i:04d}" for i in range(n)]
    with tempfile.TemporaryDirectory(prefix="sloburn-fleet-page-") as tmp:
        t = Path(tmp)
        cfg = t / "fleet.yaml"
        cfg.write_text(fleet_config(services, tail="settings:\n  partitions: 8\n"))
        broker = EmbeddedBroker(free_port(), log_file=t / "broker.log").start()
        port = free_port()
        proc = start_worker([str(cfg)], broker.bootstrap, port, dict(os.environ), t / "w.log")
        web = f"http://127.0.0.1:{port}"
        try:
            asyncio.run(wait_healthy(web + "/healthz", proc))
            live = services[: n // 10]
            asyncio.run(_history(broker.bootstrap, live, time.time()))
            deadline = time.monotonic() + 300
            rows: list[dict[str, Any]] = []
            while time.monotonic() < deadline:
                _, rows, _ = _fleet(web)
                if sum(not r["no_data"] for r in rows) >= len(live):
                    break
                time.sleep(2)
            else:
                raise RuntimeError("the live SLOs were not all evaluated within 5 minutes")
            api = [_fleet(web) for _ in range(5)]
            page = _browser_s(web + "/")
            blank = _browser_s("data:text/html,<p>blank</p>")
            usable = [ready_ms(web + "/") for _ in range(5)]
        finally:
            stop_process(proc)
            broker.stop()
    return {
        "slos": n,
        "live_slos": len(live),
        "fleet_api_s_p50": round(statistics.median(a for a, _, _ in api), 3),
        "fleet_api_kib": round(api[0][2] / 1024),
        "page_usable_s_p50": round(statistics.median(usable) / 1000, 3),
        "page_usable_s_each": [round(u / 1000, 3) for u in usable],
        "page_wall_minus_blank_s": round(page - blank, 2),
        "browser_blank_s": round(blank, 2),
        "target_page_s": "<= 1",
    }
