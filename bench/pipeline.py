"""Pipeline throughput against the stack's own ceilings, all measured in one run, back to back,
so that their ratios hold on a noisy machine. Each reads messages produced before it starts:

* ceiling (a): a bare aiokafka consumer that reads and orjson-decodes the messages;
* ceiling (b): a Faust agent that only decodes them (the engine's per-message floor);
* sloburn: a fresh worker per kind (replay mode: ingest and windows, no timers) from the
  outcomes topic to updated tables, for one-outcome messages, 100-outcome messages and
  pre-counted events.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.kafka import topics
from streams.local.demo import start_worker, stop_process
from streams.local.embedded_broker import EmbeddedBroker, free_port
from streams.local.kafka_cluster import KafkaCluster
from streams.local.traffic import fleet_config

PARTITIONS = 8
SERVICES = [f"bench-{i:02d}" for i in range(20)]
PER_BATCH = 100


def messages(kind: str, n: int, now: float) -> list[tuple[bytes, bytes]]:
    """(key, value) of ``n`` messages: one outcome, 100 outcomes, or one pre-counted event."""
    out = []
    for i in range(n):
        svc = SERVICES[i % len(SERVICES)]
        ts = now - 60 + (i % 600) * 0.1
        if kind == "one":
            v = orjson.dumps({"service": svc, "ts": ts, "status_code": 500 if i % 97 == 0 else 200})
        elif kind == "batched":
            v = orjson.dumps(
                [
                    {"service": svc, "ts": ts, "status_code": 500 if k == 0 else 200}
                    for k in range(PER_BATCH)
                ]
            )
        else:
            v = orjson.dumps({"service": svc, "ts": ts, "good": PER_BATCH - 1, "total": PER_BATCH})
        out.append((svc.encode(), v))
    return out


def outcomes_in(kind: str) -> int:
    """Outcomes one message of ``kind`` stands for."""
    return 1 if kind == "one" else PER_BATCH


async def create(bootstrap: str, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, PARTITIONS, 1) for t in names])
    finally:
        await admin.close()


async def produce(bootstrap: str, topic: str, batch: list[tuple[bytes, bytes]]) -> None:
    p = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=262144, acks=1)
    await p.start()
    try:
        futures = [await p.send(topic, v, key=k) for k, v in batch]
        await p.flush()
        await asyncio.gather(*futures)
    finally:
        await p.stop()


async def bare_consumer(bootstrap: str, topic: str, n: int) -> float:
    """Seconds a plain aiokafka consumer takes to read and decode ``n`` messages."""
    c = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await c.start()
    seen = 0
    started = None
    try:
        deadline = time.monotonic() + 300
        while seen < n and time.monotonic() < deadline:
            batch = await c.getmany(timeout_ms=500, max_records=20000)
            if batch and started is None:
                started = time.perf_counter()
            for msgs in batch.values():
                for m in msgs:
                    orjson.loads(m.value)
                seen += sum(1 for _ in msgs)
    finally:
        await c.stop()
    if seen < n or started is None:
        raise RuntimeError(f"bare consumer read {seen} of {n} messages")
    return time.perf_counter() - started


def faust_decode_only(bootstrap: str, topic: str, n: int, workdir: Path) -> float:
    """Seconds a decode-only Faust agent takes for ``n`` messages (first to last)."""
    proc = subprocess.run(
        [sys.executable, "-m", "bench.faust_loop", bootstrap, topic, str(n), str(workdir)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    for line in (proc.stdout + proc.stderr).splitlines():  # Faust re-logs print() to stderr
        if "decoded " in line:
            return float(line.split("decoded ", 1)[1].split()[2])
    raise RuntimeError(f"faust decode-only agent failed: {proc.stderr[-2000:]}")


def progress(web: str) -> dict[str, Any] | None:
    """The worker's counters; None while its web server is not up yet."""
    try:
        with urllib.request.urlopen(web + "/v1/replay/progress", timeout=5) as r:
            out: dict[str, Any] = orjson.loads(r.read())
            return out
    except OSError:
        return None


def sloburn_rate(
    workdir: Path,
    kind: str,
    batch: list[tuple[bytes, bytes]],
    kafka: bool = False,
    guarantee: str = "at_least_once",
) -> float:
    """Messages/s of a fresh worker over ``batch``, produced before it starts (as the ceilings
    read theirs: a producer on these two cores would slow the worker it is measured against),
    from the first outcome it counted to every object judged and every SLI record applied.
    On a fresh embedded broker, or (``kafka``) a fresh one-node Apache Kafka."""
    per_message = PER_BATCH if kind == "batched" else 1  # JSON objects the worker counts
    expected = len(batch) * per_message
    broker: EmbeddedBroker | KafkaCluster
    if kafka:
        broker = KafkaCluster(workdir / f"kafka-{kind}-{guarantee}", 1).start()
    else:
        broker = EmbeddedBroker(free_port(), log_file=workdir / f"broker-{kind}.log").start()
    try:
        asyncio.run(create(broker.bootstrap, [topics.OUTCOMES, topics.SLI]))
        asyncio.run(produce(broker.bootstrap, topics.OUTCOMES, batch))
        cfg = workdir / "bench.yaml"
        cfg.write_text(config_text())
        port = free_port()
        proc = start_worker(
            [str(cfg)],
            broker.bootstrap,
            port,
            dict(os.environ),
            workdir / f"worker-{kind}.log",
            "--replay-mode",
            "--loglevel",
            "warn",
            "--processing-guarantee",
            guarantee,
        )
        web = f"http://127.0.0.1:{port}"
        try:
            first: tuple[float, int] | None = None
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline and proc.poll() is None:
                p = progress(web)
                now = time.perf_counter()
                if p is not None and p["outcomes"] > 0:
                    if first is None:
                        first = (now, p["outcomes"])
                    elif p["outcomes"] >= expected and p["sli_applied"] == p["sli_sent"]:
                        return (expected - first[1]) / (now - first[0]) / per_message
                time.sleep(0.02)
            raise RuntimeError(f"the worker did not count {expected} objects within 10 minutes")
        finally:
            stop_process(proc)
    finally:
        broker.stop()


def bench_guarantees(workdir: Path, n_one: int = 50_000, n_batched: int = 10_000) -> dict[str, Any]:
    """On Apache Kafka: one worker's rate with the offset dedup (at_least_once), on a fresh
    one-node Kafka. exactly_once is no longer offered (README "Exactly once"); its figures in
    the README were measured while it was."""
    now = time.time()
    figures: dict[str, Any] = {}
    for kind, n in (("batched", n_batched), ("one", n_one)):
        batch = messages(kind, n, now)
        for guarantee in ("at_least_once",):
            rate = sloburn_rate(workdir, kind, batch, kafka=True, guarantee=guarantee)
            figures[f"kafka_{guarantee}_{kind}_msgs_per_s"] = round(rate)
            figures[f"kafka_{guarantee}_{kind}_outcomes_per_s"] = round(rate * outcomes_in(kind))
            print(f"{kind} {guarantee}: {rate:,.0f} msgs/s", flush=True)
    return figures


def config_text() -> str:
    return fleet_config(SERVICES, tail=f"settings:\n  partitions: {PARTITIONS}\n")


def bench_pipeline(workdir: Path, n_one: int = 100_000, n_batched: int = 20_000) -> dict[str, Any]:
    """Every throughput figure of the pipeline and its ceilings, in one run."""
    now = time.time()
    loads = {
        "one": messages("one", n_one, now),
        "batched": messages("batched", n_batched, now),
        "precounted": messages("precounted", n_one, now),
    }
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="sloburn-bench-") as tmp:
        t = Path(tmp)
        broker = EmbeddedBroker(free_port(), log_file=t / "broker.log").start()
        try:
            asyncio.run(create(broker.bootstrap, ["bench.one", "bench.batched"]))
            for kind in ("one", "batched"):
                asyncio.run(produce(broker.bootstrap, f"bench.{kind}", loads[kind]))
            for kind in ("one", "batched"):
                n = len(loads[kind])
                s = asyncio.run(bare_consumer(broker.bootstrap, f"bench.{kind}", n))
                figures[f"ceiling_aiokafka_{kind}_msgs_per_s"] = round(n / s)
                figures[f"ceiling_aiokafka_{kind}_outcomes_per_s"] = round(
                    n * outcomes_in(kind) / s
                )
            s = faust_decode_only(broker.bootstrap, "bench.one", n_one, t)
            figures["ceiling_faust_decode_only_msgs_per_s"] = round(n_one / s)
        finally:
            broker.stop()
        for kind, load in loads.items():
            rate = sloburn_rate(t, kind, load)
            figures[f"sloburn_{kind}_msgs_per_s"] = round(rate)
            figures[f"sloburn_{kind}_outcomes_per_s"] = round(rate * outcomes_in(kind))
    figures["ratio_one_vs_faust_decode"] = round(
        figures["sloburn_one_msgs_per_s"] / figures["ceiling_faust_decode_only_msgs_per_s"], 2
    )
    figures["ratio_batched_vs_aiokafka"] = round(
        figures["sloburn_batched_outcomes_per_s"]
        / figures["ceiling_aiokafka_batched_outcomes_per_s"],
        2,
    )
    figures["target_one_vs_faust_decode"] = ">= 0.8"
    figures["target_batched_vs_aiokafka"] = ">= 0.5"
    return figures
