"""kill -9 at random points while events flow: after restarts and draining, every SLO's counts
equal exactly what was sent (nothing lost, nothing counted twice)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterator

import orjson
import pytest
from confluent_kafka import Producer

from streams.kafka import topics
from streams.local.embedded_broker import EmbeddedBroker
from tests.e2e.conftest import (
    Received,
    Worker,
    services_config,
    topic_counts,
    totals,
    wait_equal,
)

pytestmark = [pytest.mark.e2e, pytest.mark.brokers("embedded", "kafka")]

SERVICES = [f"svc-{i:02d}" for i in range(20)]
CONFIG = services_config(SERVICES)
EVENTS, PER_MESSAGE, CHUNKS = 200_000, 20, 10


def outcomes_of(raw: bytes) -> Iterator[tuple[str, bool]]:
    """(service, bad) of each outcome of a message on the outcomes topic."""
    for ev in orjson.loads(raw):
        yield ev["service"], ev["status_code"] == 503


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

    want = asyncio.run(topic_counts(bootstrap, topics.OUTCOMES, sent, outcomes_of))
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
