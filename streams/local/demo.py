"""`sloburn up`: embedded broker + worker + local receivers + scripted outage, narrated.

Everything it starts it stops (by PID) on exit or Ctrl-C. With ``once`` it returns 0 only when a
page was triggered and later resolved on PagerDuty (same dedup_key).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp
from aiokafka import AIOKafkaProducer

from streams.core.durations import window_label
from streams.kafka import topics
from streams.local.embedded_broker import EmbeddedBroker
from streams.local.kafka_cluster import KAFKA_VERSION, KafkaCluster
from streams.local.receivers import Receivers
from streams.local.traffic import Scenario

DEMO_SERVICE = "checkout-api"
DEMO_SLO = "checkout-api:success_rate"


def demo_scenario(now: float) -> Scenario:
    """A week of healthy history, then 20 live minutes with a 2-minute total outage.

    On a 99.9 % SLO this fires only the 1h/5m page (burn 1h ~34x, 6h ~5.6x: below 6x), which
    resolves ~5 minutes of event time after the outage, and spends ~20 % of the budget.
    """
    return Scenario.ending_at(
        DEMO_SERVICE,
        now,
        history_s=7 * 86400,
        live_s=20 * 60,
        outage_after_s=240,
        outage_s=120,
        error_every=20000,
    )


def say(msg: str) -> None:
    """One narrated line (flushed, so it interleaves correctly when piped)."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def start_worker(
    config: Sequence[str],
    bootstrap: str,
    web_port: int,
    env: dict[str, str],
    log: Path,
    *extra: str,
) -> subprocess.Popen[bytes]:
    """The worker as a child process (own session, so it is stopped by PID with its children)."""
    cmd = [
        sys.executable,
        "-m",
        "streams.cli",
        "worker",
        "--broker",
        bootstrap,
        "--web-port",
        str(web_port),
        "--loglevel",
        "info",
        *extra,
    ]
    for c in config:
        cmd += ["--config", c]
    return subprocess.Popen(
        cmd,
        env=env,
        stdout=open(log, "ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_process(proc: subprocess.Popen[bytes], timeout_s: float = 15.0) -> None:
    """SIGTERM, then SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout_s)


async def wait_healthy(
    url: str, proc: subprocess.Popen[bytes] | None = None, timeout_s: float = 120.0
) -> None:
    """Poll ``url`` until 200; fail early if the process died."""
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as s:
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"worker exited with code {proc.returncode} before ready")
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with s.get(url, timeout=aiohttp.ClientTimeout(total=2)) as r:
                    if r.status == 200:
                        return
            await asyncio.sleep(0.5)
    raise TimeoutError(f"{url} not healthy within {timeout_s:.0f}s")


async def send_scenario(bootstrap: str, sc: Scenario, pace_s: float) -> None:
    """Produce history at once, then the live part one bucket per ``pace_s`` wall seconds."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        key = sc.service.encode()
        for msg in sc.history():
            await producer.send(topics.OUTCOMES, msg, key=key)
        await producer.flush()
        say(
            f"sent {(sc.live_from - sc.history_from) / 86400:.1f} days of healthy history "
            f"for {sc.service}; live traffic follows at accelerated event time"
        )
        for t, msg in sc.live():
            if t == sc.outage_start:
                at = time.strftime("%H:%M:%S", time.localtime(t))
                say(
                    f"--- outage starts (event time {at}):"
                    f" every request of {sc.service} fails with 503 for "
                    f"{sc.outage_end - sc.outage_start:.0f}s ---"
                )
            if t == sc.outage_end:
                say("--- outage over: traffic healthy again ---")
            await producer.send(topics.OUTCOMES, msg, key=key)
            await asyncio.sleep(pace_s)
        await producer.flush()
    finally:
        await producer.stop()


def _describe_delivery(receiver: str, body: dict[str, Any]) -> str:
    if receiver == "flag":
        return f"Flag webhook {body['action']} {body['slo']} ({body['rule']})"
    if receiver == "pagerduty":
        summary = body.get("payload", {}).get("summary", "")
        return f"PagerDuty {body['event_action']:<8} dedup_key={body['dedup_key'][:12]}… {summary}"
    return f"Slack     {body.get('text', '')}"


async def narrate(web: str, rx: Receivers, stop: asyncio.Event) -> None:
    """Print budget/burn changes of the demo SLO and every delivery, until ``stop``."""
    shown = dict.fromkeys(rx.received, 0)
    last = ""
    async with aiohttp.ClientSession() as s:
        while not stop.is_set():
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, KeyError):
                async with s.get(f"{web}/v1/slos/{DEMO_SLO}") as r:
                    st = await r.json()
                if not st.get("no_data"):
                    burns = " ".join(
                        f"{window_label(w['window_s'])}={w['burn_rate']:.1f}" for w in st["windows"]
                    )
                    line = f"budget remaining {st['budget']['remaining']:7.2%} | burn {burns}"
                    if line != last:
                        say(f"{DEMO_SLO}: {line}")
                        last = line
            for receiver, items in rx.received.items():
                for item in items[shown[receiver] :]:
                    say("→ " + _describe_delivery(receiver, item["body"]))
                shown[receiver] = len(items)
            await asyncio.sleep(1.0)


def page_cycle_done(rx: Receivers) -> bool:
    """A PagerDuty trigger and a later resolve with the same dedup_key were received."""
    triggered: set[str] = set()
    for item in rx.received["pagerduty"]:
        body = item["body"]
        if body["event_action"] == "trigger":
            triggered.add(body["dedup_key"])
        elif body["event_action"] == "resolve" and body["dedup_key"] in triggered:
            return True
    return False


# What `up` started, stopped again by `stop_leftovers` from synchronous code: a SIGTERM that
# lands while asyncio is already unwinding (cancelling the producer's tasks) can cut the exit
# stack short, and the worker then outlived `up` (seen in CI, about one run in three).
_STARTED: list[Callable[[], None]] = []


def stop_leftovers() -> None:
    """Stop whatever `up` started that is still running (each stop is idempotent)."""
    while _STARTED:
        _STARTED.pop()()


async def up(
    config: Sequence[str],
    broker_port: int,
    web_port: int,
    once: bool,
    workdir: Path,
    kafka: bool = False,
) -> int:
    """Run the whole demo, on the embedded broker or (``kafka``) on a local Apache Kafka;
    returns the process exit code."""
    workdir.mkdir(parents=True, exist_ok=True)
    async with contextlib.AsyncExitStack() as stack:
        broker: EmbeddedBroker | KafkaCluster
        if kafka:
            broker = KafkaCluster(workdir / "kafka", 1)
            say(f"Apache Kafka {KAFKA_VERSION}: fetching it with mvn if not cached, starting")
        else:
            broker = EmbeddedBroker(broker_port, log_file=workdir / "broker.log")
        stack.callback(broker.stop)
        _STARTED.append(broker.stop)
        starting = asyncio.ensure_future(asyncio.to_thread(broker.start))
        try:
            await asyncio.shield(starting)
        except BaseException:  # SIGTERM while it starts: let it finish, so stop() finds it
            with contextlib.suppress(BaseException):
                await starting
            raise
        if kafka:
            say(f"Apache Kafka {KAFKA_VERSION} (KRaft, one node) on {broker.bootstrap}")
        else:
            say(f"embedded broker (Tansu, memory storage) on {broker.bootstrap}")
        rx = await Receivers().start()
        stack.push_async_callback(rx.stop)
        say(f"local Slack and PagerDuty receivers on http://127.0.0.1:{rx.port}")
        worker = start_worker(
            config,
            broker.bootstrap,
            web_port,
            {**os.environ, **rx.env()},
            workdir / "worker.log",
            "--data-dir",
            str(workdir / "data"),
        )
        stack.push_async_callback(asyncio.to_thread, stop_process, worker)
        _STARTED.append(functools.partial(stop_process, worker))
        return await _run_demo(broker.bootstrap, rx, worker, web_port, once, workdir)


async def _run_demo(
    bootstrap: str,
    rx: Receivers,
    worker: subprocess.Popen[bytes],
    web_port: int,
    once: bool,
    workdir: Path,
) -> int:
    web = f"http://127.0.0.1:{web_port}"
    stop = asyncio.Event()
    try:
        say(f"worker pid {worker.pid} starting (log: {workdir / 'worker.log'}) ...")
        await wait_healthy(f"{web}/healthz", worker)
        say(f"worker ready: {web}/v1/slos  {web}/metrics")
        narrator = asyncio.create_task(narrate(web, rx, stop))
        sc = demo_scenario(time.time())
        await send_scenario(bootstrap, sc, pace_s=0.15)
        deadline = time.monotonic() + 90
        while not page_cycle_done(rx) and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        await asyncio.sleep(1.5)  # let the narrator print the last deliveries
        ok = page_cycle_done(rx)
        say("page fired and resolved" if ok else "no page fired and resolved in time")
        if not once:
            say(f"still running for exploring: {web}/v1/slos {web}/metrics (Ctrl-C stops all)")
            await asyncio.Event().wait()
        stop.set()
        await narrator
        return 0 if ok else 1
    finally:
        stop.set()
