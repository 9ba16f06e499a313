"""One ingest batch counts a message once, even when it is handed over twice. When ingest ran
as a Faust agent, a restart's fetch from the consumer's position raced recovery's seek back to
the committed offsets, so a batch could hold a run of messages and then the same run again;
the copies merged into one per-offset contribution the window table cannot tell from a single
message (the kill -9 test on Kafka counted one 20-outcome message twice in CI). The input feed
does not seek, but the guard stays as cheap as it is."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from streams.config.loading import load_config
from streams.config.model import Config
from streams.ingest.aggregate import RECORD_CONTRIBUTIONS_MAX
from streams.kafka import topics
from streams.runtime.agents.ingest import Ingest, packs
from streams.runtime.metrics import Metrics
from streams.runtime.wiring import Throughput
from streams.state.sli_record import SliRecord, unpack

NOW = 1_795_514_400.0


class Sent:
    """A topic that keeps what is sent to it."""

    def __init__(self) -> None:
        self.values: list[bytes] = []

    async def send(self, key: bytes, value: bytes, partition: int | None = None) -> Any:
        self.values.append(value)
        return asyncio.sleep(0)  # the delivery


@pytest.fixture
def cfg(tmp_path: Any) -> Config:
    path = tmp_path / "slo.yaml"
    path.write_text("services:\n  api: {sli_type: success_rate, target: 0.999, window_days: 30}\n")
    return load_config([path], env={})


def event(partition: int, offset: int, statuses: list[int]) -> Any:
    """A consumer record as the input feed hands it to ingest."""
    value = orjson.dumps(
        [{"service": "api", "ts": NOW - 60 + i, "status_code": s} for i, s in enumerate(statuses)]
    )
    return SimpleNamespace(
        topic=topics.OUTCOMES, partition=partition, offset=offset, key=b"", value=value
    )


async def counted(cfg: Config, events: list[Any]) -> tuple[int, int, Metrics]:
    """(bad, total) of the SLI records one batch publishes, and the worker's metrics."""
    sli, metrics = Sent(), Metrics()
    w = SimpleNamespace(
        cfg=cfg, metrics=metrics, throughput=Throughput(), sli=sli, outcomes_dlq=Sent()
    )
    await asyncio.gather(*await Ingest(w).batch(events))  # type: ignore[arg-type]
    bad = total = 0
    for raw in sli.values:
        for rec in unpack(raw):
            for _, _, b, t in rec.counts:
                bad, total = bad + b, total + t
    return bad, total, metrics


async def test_a_run_delivered_twice_in_one_batch_counts_once(cfg: Config) -> None:
    first = [event(2, o, [200, 503] if o == 41 else [200, 200]) for o in (40, 41, 42)]
    again = [event(2, o, [200, 503] if o == 41 else [200, 200]) for o in (41, 42, 43)]
    bad, total, metrics = await counted(cfg, first + again)
    assert (bad, total) == (1, 8)  # offsets 40-43, two outcomes each
    assert metrics.registry.get_sample_value("sloburn_input_redeliveries_total") == 2


async def test_the_same_offset_of_another_partition_is_another_message(cfg: Config) -> None:
    bad, total, metrics = await counted(cfg, [event(0, 7, [503]), event(1, 7, [200])])
    assert (bad, total) == (1, 2)
    assert metrics.registry.get_sample_value("sloburn_input_redeliveries_total") == 0


def test_records_go_packed_one_message_per_sli_partition_within_the_size_cap() -> None:
    # Ten thousand SLOs sent a message per SLO: the window agent's per-message cost was the
    # worker's limit (bench page-fleet).
    big = [(o, 10 * o, 0, 1) for o in range(RECORD_CONTRIBUTIONS_MAX - 5)]
    records = [SliRecord(f"svc-{i}:success_rate", [(i, 10, 0, 1)], 1.0, "0") for i in range(300)]
    records.insert(100, SliRecord("svc-7:latency", big, 1.0, "0"))
    messages = list(packs(records, 8))
    per_partition = [p for p, _ in messages]
    heavy = topics.partition_for_slo("svc-7:latency", 8)
    assert sorted(set(per_partition)) == list(range(8))
    assert all(per_partition.count(p) == 1 for p in range(8) if p != heavy)
    assert per_partition.count(heavy) in (2, 3)  # the big record does not fit beside others
    for partition, chunk in messages:
        assert {topics.partition_for_slo(r.slo, 8) for r in chunk} == {partition}
        assert sum(len(r.counts) for r in chunk) <= RECORD_CONTRIBUTIONS_MAX
    assert sorted(r.slo for _, chunk in messages for r in chunk) == sorted(r.slo for r in records)
