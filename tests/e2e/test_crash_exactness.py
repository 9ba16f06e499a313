"""kill -9 at random points while events flow: after restarts and draining, every SLO's counts
equal exactly what was sent (nothing lost, nothing counted twice)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from confluent_kafka import Producer

from streams.kafka import topics
from streams.local.embedded_broker import EmbeddedBroker
from tests.e2e.conftest import Received, Worker, services_config, totals, wait_equal

pytestmark = [pytest.mark.e2e, pytest.mark.brokers("embedded", "kafka")]

SERVICES = [f"svc-{i:02d}" for i in range(20)]
CONFIG = services_config(SERVICES)
EVENTS, PER_MESSAGE, CHUNKS = 200_000, 20, 10


async def topic_totals(bootstrap: str, messages: int) -> dict[str, tuple[int, int]]:
    """(bad, total) per service over every message the outcomes topic holds: the input an
    uninterrupted run would count. It can hold more than was sent once: without idempotent
    producers (the embedded broker has none) a producer retry may write a message twice."""
    c = AIOKafkaConsumer(
        topics.OUTCOMES, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await c.start()
    out: dict[str, list[int]] = {}
    read = 0
    try:
        for _ in range(240):  # bounded: 2 minutes at most
            batch = await c.getmany(timeout_ms=500)
            for msgs in batch.values():
                for m in msgs:
                    read += 1
                    for ev in orjson.loads(m.value):
                        cell = out.setdefault(ev["service"], [0, 0])
                        cell[0] += ev["status_code"] == 503
                        cell[1] += 1
            if read >= messages and not batch:
                break
    finally:
        await c.stop()
    return {svc: (bad, total) for svc, (bad, total) in out.items()}


def test_kill_9_three_times_loses_and_double_counts_nothing(
    broker: EmbeddedBroker, receivers: Received, worker: Callable[..., Worker]
) -> None:
    kill_9_three_times(broker.bootstrap, lambda: worker(CONFIG))


def kill_9_three_times(bootstrap: str, new_worker: Callable[[], Worker]) -> Worker:
    """Send 200,000 outcomes in ten chunks, kill -9 the worker after three of them, and check
    the last worker's counts against the topic; that worker."""
    rng = random.Random(20261124)
    w = new_worker()
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    start = time.time() - 3000
    expected = {s: [0, 0] for s in SERVICES}
    messages = EVENTS // PER_MESSAGE
    kill_after = set(rng.sample(range(1, CHUNKS - 1), 3))
    sent = 0
    for chunk in range(CHUNKS):
        for _ in range(messages // CHUNKS):
            service = SERVICES[sent % len(SERVICES)]
            batch = []
            for j in range(PER_MESSAGE):
                failed = rng.random() < 0.01
                # Event time rises with the send order: nothing is late.
                batch.append(
                    {
                        "service": service,
                        "ts": start + (sent * PER_MESSAGE + j) * 0.015,
                        "status_code": 503 if failed else 200,
                    }
                )
                expected[service][0] += failed
                expected[service][1] += 1
            producer.produce(topics.OUTCOMES, orjson.dumps(batch), key=service.encode())
            sent += 1
        assert producer.flush(30) == 0
        if chunk in kill_after:
            time.sleep(rng.uniform(0.05, 1.0))  # the worker is mid-stream, often mid-batch
            w.kill9()
            w = new_worker()

    want = asyncio.run(topic_totals(bootstrap, sent))
    # Nothing sent is missing from the input (it may hold a producer-retried duplicate).
    for svc, (bad, total) in expected.items():
        assert want[svc][1] >= total and want[svc][0] >= bad, svc
    assert sum(t for _, t in want.values()) >= EVENTS
    wait_equal(lambda: totals(w), want, 180, "every event to be counted exactly once")
    time.sleep(3)  # anything counted twice would show up now
    assert totals(w) == want
    for s in w.get("/v1/slos")["slos"]:
        bad, total = want[s["service"]]
        assert s["budget"]["remaining"] == pytest.approx(1 - bad / (0.001 * total), rel=1e-12)
    return w
