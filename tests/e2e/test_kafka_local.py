"""Apache Kafka 4 from Maven Central on loopback (streams.kafka_local): a single KRaft node
starts, serves, takes sloburn's topics and `sloburn send`, and stops by PID. The first step of
running the suite on Kafka; skipped with its reason where Java or mvn is missing."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from streams import kafka_local, topics
from streams.topics import ensure_topics
from tests.conftest import ROOT, sloburn

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(kafka_local.available() is not None, reason=str(kafka_local.available())),
]


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
    tmp_path: Path,
) -> None:
    lines = (ROOT / "examples" / "outages.jsonl").read_text().splitlines()[:50]
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(lines) + "\n")
    with kafka_local.KafkaCluster(tmp_path / "kafka", 1) as cluster:
        [node] = cluster.nodes
        assert "Kafka Server started" in node.log.read_text()
        created = asyncio.run(ensure_topics(cluster.bootstrap, 4))
        assert set(created) == set(topics.ALL)
        sent = sloburn("send", str(events), "--broker", cluster.bootstrap, env=dict(os.environ))
        assert sent.returncode == 0, sent.stderr
        keys = asyncio.run(read_keys(cluster.bootstrap, len(lines)))
        assert len(keys) == len(lines)
        pid = node.proc.pid if node.proc else -1
    assert node.proc is not None and node.proc.poll() is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
