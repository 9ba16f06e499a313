"""Time to page, live: from the event time at which a page's condition becomes true to the
local PagerDuty's 202, over staggered outages of many services on one worker.

Traffic is produced in real time (event time = wall time), once a second per service, as
pre-counted events. When each condition became true is computed afterwards, exactly, by
running the very events that were sent through the worker's own counting and evaluation code
in process (``streams.replay.engine.InProcess``) on a 1-s grid, the worker's evaluation interval.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from streams.config.loading import load_config
from streams.core.alerts import dedup_key
from streams.kafka import topics
from streams.local.demo import start_worker, stop_process, wait_healthy
from streams.local.embedded_broker import EmbeddedBroker, free_port
from streams.local.receivers import ReceiversThread
from streams.local.traffic import fleet_config
from streams.replay.engine import InProcess

RULE = "fast_burn"
PER_SECOND = 50  # requests per service per second


def config_text(services: list[str], others: Sequence[str] = ()) -> str:
    """The paging services with the one fast-burn rule; ``others`` with the Workbook's."""
    rules = f"      {RULE}: {{window_minutes: 60, short_window_minutes: 5, threshold: 14.4}}\n"
    tail = (
        "settings:\n  partitions: 8\nnotifications:\n"
        "  pagerduty_routing_key: ${PAGERDUTY_ROUTING_KEY}\n"
        "  pagerduty_events_url: ${PAGERDUTY_EVENTS_URL}\n"
    )
    paging = fleet_config(services, alerts=rules)
    rest = fleet_config(others).removeprefix("services:\n") if others else ""
    return f"{paging}{rest}{tail}"


async def drive(
    bootstrap: str,
    services: list[str],
    outage_at: dict[str, float],
    until: float,
    healthy: list[str],
    quiet: list[str],
) -> list[dict[str, Any]]:
    """An hour of history, then live seconds until ``until``; returns what the paging
    ``services`` were sent. ``healthy`` services get a sample of history and live healthy
    traffic, ``quiet`` ones the sample only: SLOs the evaluator carries along."""
    p = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=2)
    await p.start()
    sent: list[dict[str, Any]] = []

    async def send(ev: dict[str, Any], keep: bool = True) -> None:
        if keep:
            sent.append(ev)
        await p.send(topics.OUTCOMES, orjson.dumps(ev), key=ev["service"].encode())

    try:
        start = int(time.time())
        for s in services:
            for t in range(start - 3600, start, 10):
                await send(
                    {"service": s, "ts": t, "good": 10 * PER_SECOND, "total": 10 * PER_SECOND}
                )
        for s in healthy + quiet:
            for t in range(start - 3600, start, 600):
                n = 600 * PER_SECOND
                await send({"service": s, "ts": t, "good": n, "total": n}, keep=False)
        await p.flush()
        while time.time() < until:
            now = time.time()
            for s in services:
                good = 0 if now >= outage_at[s] else PER_SECOND
                await send({"service": s, "ts": now, "good": good, "total": PER_SECOND})
            for s in healthy:
                ev = {"service": s, "ts": now, "good": PER_SECOND, "total": PER_SECOND}
                await send(ev, keep=False)
            await p.flush()
            await asyncio.sleep(max(0.0, 1.0 - (time.time() - now)))
    finally:
        await p.stop()
    return sent


def condition_times(
    cfg_path: Path, sent: list[dict[str, Any]], services: list[str], from_t: float
) -> dict[str, float]:
    """Per service, the first evaluation time (1-s grid, from ``from_t`` on) at which its page
    fires in process."""
    cfg = load_config([cfg_path], env={"PAGERDUTY_ROUTING_KEY": "", "PAGERDUTY_EVENTS_URL": ""})
    ordered = sorted(sent, key=lambda e: e["ts"])
    proc = InProcess(cfg, now=ordered[-1]["ts"] + 3600)
    first: dict[str, float] = {}
    i = 0
    t = int(from_t)
    while len(first) < len(services):
        while i < len(ordered) and ordered[i]["ts"] <= t:
            proc.add(ordered[i], orjson.dumps(ordered[i]))
            i += 1
        for rows in proc.evaluate(t):
            for a in rows["alerts"]:
                if a["state"] == "firing" and a["service"] not in first:
                    first[a["service"]] = float(t)
        if i >= len(ordered):
            break
        t += 1
    return first


def bench_time_to_page(n: int = 20, gap_s: float = 4.0, fleet: int = 0) -> dict[str, Any]:
    """p50/p99 seconds from condition true (event time) to PagerDuty's 202, over ``n`` outages;
    with ``fleet``, among that many SLOs on the worker, a tenth of them with live traffic."""
    services = [f"page-{i:02d}" for i in range(n)]
    others = [f"fleet-{i:05d}" for i in range(max(0, fleet - n))]
    healthy = others[: max(0, fleet // 10 - n)]
    quiet = others[len(healthy) :]
    rx = ReceiversThread()
    rx.start()
    with tempfile.TemporaryDirectory(prefix="sloburn-page-") as tmp:
        t = Path(tmp)
        cfg_path = t / "page.yaml"
        cfg_path.write_text(config_text(services, others))
        paging_cfg = t / "paging.yaml"
        paging_cfg.write_text(config_text(services))
        broker = EmbeddedBroker(free_port(), log_file=t / "broker.log").start()
        port = free_port()
        env = {**os.environ, **rx.receivers.env(routing_key="bench-routing-key")}
        proc = start_worker([str(cfg_path)], broker.bootstrap, port, env, t / "worker.log")
        try:
            asyncio.run(wait_healthy(f"http://127.0.0.1:{port}/healthz", proc))
            begin = time.time() + 15
            outage_at = {s: begin + i * gap_s for i, s in enumerate(services)}
            until = begin + n * gap_s + 90  # the 1h window needs ~52 s of total failure
            sent = asyncio.run(drive(broker.bootstrap, services, outage_at, until, healthy, quiet))
            time.sleep(3)
            received = rx.call(lambda: list(rx.receivers.received["pagerduty"]))
        finally:
            stop_process(proc)
            broker.stop()
            rx.stop()
        true_at = condition_times(paging_cfg, sent, services, begin - 10)
    accepted = {
        r["body"]["dedup_key"]: r["at"] for r in received if r["body"]["event_action"] == "trigger"
    }
    delays = sorted(
        accepted[dedup_key(f"{s}:success_rate", RULE, "page")] - true_at[s]
        for s in services
        if s in true_at and dedup_key(f"{s}:success_rate", RULE, "page") in accepted
    )

    def at(i: int) -> float | str:
        # An outage not paged by the end of the run ranks after every paged one.
        return round(delays[i], 2) if i < len(delays) else "not paged"

    return {
        "slos": n + len(others),
        "outages": n,
        "paged": len(delays),
        "time_to_page_s_p50": at(n // 2),
        "time_to_page_s_p99": at(min(n - 1, int(0.99 * n))),
        "time_to_page_s_min": at(0),
        "time_to_page_s_each": [round(d, 2) for d in delays],
        "target_p99_s": "<= 5",
    }
