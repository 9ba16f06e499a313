"""The producer-side helper: batched and pre-counted outcomes count exactly as one message per
request would, in far fewer messages."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from streams.config.loading import load_config
from streams.kafka.client import OutcomeClient
from streams.local.embedded_broker import EmbeddedBroker
from tests.conftest import sloburn
from tests.e2e.conftest import Worker, services_config, totals, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.brokers("embedded", "kafka")]


def outcomes(service: str, n: int, now: float) -> list[dict]:
    return [
        {"service": service, "ts": now - 30 + i * 0.01, "status_code": 503 if i % 7 == 0 else 200}
        for i in range(n)
    ]


def test_pre_counted_and_batched_outcomes_count_exactly(
    broker: EmbeddedBroker, worker: Callable[..., Worker], tmp_path: Path
) -> None:
    text = services_config(["counted-api", "batched-api"])
    w = worker(text)
    now = time.time()
    cfg_path = tmp_path / "client.yaml"
    cfg_path.write_text(text)

    async def counted() -> int:
        client = OutcomeClient(broker.bootstrap, load_config([cfg_path], env={}), flush_every_s=0.5)
        await client.start()
        for o in outcomes("counted-api", 3000, now):
            await client.record(o)
        await client.stop()
        with pytest.raises(ValueError, match="status_code"):
            await client.record({"service": "counted-api", "ts": now, "status_code": "ok"})
        return client.sent.messages

    messages = asyncio.run(counted())
    assert messages <= 4  # 3,000 requests over 30 s of event time: a message per flush

    lines = tmp_path / "batched.jsonl"
    lines.write_bytes(b"\n".join(orjson.dumps(o) for o in outcomes("batched-api", 1200, now)))
    proc = sloburn("send", str(lines), "--batch", "--broker", broker.bootstrap, "--partitions", "4")
    assert proc.returncode == 0, proc.stderr
    assert "sent 1200 outcomes as 3 messages (batched)" in proc.stderr

    bad = 3000 // 7 + 1
    wait_for(lambda: totals(w).get("counted-api") == (bad, 3000), 60, "the pre-counted outcomes")
    wait_for(lambda: totals(w).get("batched-api") == (1200 // 7 + 1, 1200), 60, "the batch")
