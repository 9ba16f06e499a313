"""Apache Kafka 4 from Maven Central on loopback (streams.local.kafka_cluster): a single KRaft node
starts, is recognised as Kafka, takes sloburn's topics and `sloburn send`, and stops by PID;
the embedded broker, on loopback too, is recognised as the embedded one."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from streams.kafka import topics
from streams.kafka.broker_probe import probe
from streams.kafka.topics import ensure_topics
from tests.conftest import ROOT, sloburn

pytestmark = [pytest.mark.e2e, pytest.mark.brokers("kafka")]


async def read_keys(bootstrap: str, want: int) -> list[bytes | None]:
    c = AIOKafkaConsumer(
        topics.OUTCOMES, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await c.start()
    keys: list[bytes | None] = []
    try:
        for _ in range(40):  # bounded
            batch = await c.getmany(timeout_ms=500)
            keys += [m.key for ms in batch.values() for m in ms]
            if len(keys) >= want:
                break
    finally:
        await c.stop()
    return keys


def test_a_local_kafka_node_takes_the_topics_and_sloburn_send_then_stops_by_pid(
    tmp_path: Path, broker: Any
) -> None:
    lines = (ROOT / "examples" / "outages.jsonl").read_text().splitlines()[:50]
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(lines) + "\n")
    [node] = broker.cluster.nodes
    assert "Kafka Server started" in node.log.read_text()
    info = asyncio.run(probe(broker.bootstrap))
    assert (info.kind, info.brokers, info.default_replication()) == ("kafka", 1, 1)
    created = asyncio.run(ensure_topics(broker.bootstrap, 4))
    assert set(created) == set(topics.ALL)
    sent = sloburn("send", str(events), "--broker", broker.bootstrap, env=dict(os.environ))
    assert sent.returncode == 0, sent.stderr
    keys = asyncio.run(read_keys(broker.bootstrap, len(lines)))
    assert len(keys) == len(lines)
    pid = node.proc.pid if node.proc else -1
    broker.stop()
    assert node.proc is not None and node.proc.poll() is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.brokers("embedded")
def test_the_embedded_broker_is_recognised_as_such_on_loopback(tmp_path: Path, broker: Any) -> None:
    info = asyncio.run(probe(broker.bootstrap))
    assert (info.kind, info.brokers, info.default_replication()) == ("embedded", 1, 1)
