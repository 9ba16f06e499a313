"""The input feed commits an offset only after everything its message produced was
acknowledged by the broker; a delivery that fails commits nothing; a rebalance commits what
was published from the partitions it takes away, and a commit the group refuses costs nothing
(the window table skips the re-read)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from streams.kafka import topics
from streams.runtime.agents import input_feed
from streams.runtime.agents.input_feed import Feed

A, B = TopicPartition(topics.OUTCOMES, 0), TopicPartition(topics.OUTCOMES, 1)


class Consumer:
    """What the feed asks of an aiokafka consumer: commit, and the order things happened."""

    def __init__(self, log: list[str], refuse: bool = False) -> None:
        self.log = log
        self.refuse = refuse
        self.commits: list[dict[TopicPartition, int]] = []

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.log.append("commit")
        if self.refuse:
            raise CommitFailedError("rebalanced")
        self.commits.append(dict(offsets))


class Ingest:
    """Publishes one record a batch; its delivery completes when the test says so."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.deliveries: list[asyncio.Future[None]] = []

    async def batch(self, records: list[Any]) -> list[asyncio.Future[None]]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        fut.add_done_callback(lambda _: self.log.append("delivered"))
        self.deliveries.append(fut)
        return [fut]


def feed(refuse: bool = False) -> tuple[Feed, Consumer, Ingest, list[str]]:
    log: list[str] = []
    settings = SimpleNamespace(commit_interval_seconds=2.8)
    w = SimpleNamespace(cfg=SimpleNamespace(settings=settings))
    ingest = Ingest(log)
    f = Feed(w, {topics.OUTCOMES: ingest})  # type: ignore[arg-type, dict-item]
    consumer = Consumer(log, refuse)
    f.consumer = consumer  # type: ignore[assignment]
    return f, consumer, ingest, log


def records(tp: TopicPartition, *offsets: int) -> list[Any]:
    return [SimpleNamespace(topic=tp.topic, partition=tp.partition, offset=o) for o in offsets]


async def test_offsets_are_committed_only_after_their_records_were_acknowledged() -> None:
    f, consumer, ingest, log = feed()
    await f.take({A: records(A, 4, 5, 6), B: records(B, 9)})
    committing = asyncio.create_task(f.commit())
    await asyncio.sleep(0.01)
    assert consumer.commits == [] and not committing.done()  # still waiting on the broker
    ingest.deliveries[0].set_result(None)
    await committing
    assert log == ["delivered", "commit"]
    assert consumer.commits == [{A: 7, B: 10}]  # the next offset to read
    assert f.done == {}


class Stopped(Exception):
    """What stop_worker does instead of ending the test run."""


@pytest.fixture
def stops(monkeypatch: pytest.MonkeyPatch) -> None:
    def stop_worker(agent: str, exc: BaseException) -> None:
        raise Stopped(agent) from exc

    monkeypatch.setattr(input_feed, "stop_worker", stop_worker)


@pytest.mark.parametrize("via", ["interval", "rebalance"])
async def test_a_delivery_the_broker_refused_stops_the_worker_and_commits_nothing(
    stops: None, via: str
) -> None:
    f, consumer, ingest, _ = feed()
    await f.take({A: records(A, 4), B: records(B, 9)})
    ingest.deliveries[0].set_exception(KafkaError("MessageSizeTooLarge"))
    with pytest.raises(Stopped):
        if via == "interval":
            await f.commit()
        else:  # aiokafka would only log an error raised in its listener
            await f.on_partitions_revoked([B])
    assert consumer.commits == []


async def test_a_rebalance_commits_the_partitions_it_takes_away_only() -> None:
    f, consumer, ingest, _ = feed()
    await f.take({A: records(A, 4), B: records(B, 9, 10)})
    ingest.deliveries[0].set_result(None)
    await f.on_partitions_revoked([B])
    assert consumer.commits == [{B: 11}]
    assert f.done == {A: 5}  # committed at the next interval
    assert B not in f.read


async def test_a_commit_refused_after_a_rebalance_costs_nothing() -> None:
    f, _, ingest, log = feed(refuse=True)
    await f.take({A: records(A, 4)})
    ingest.deliveries[0].set_result(None)
    await f.commit()  # logged; the new owner reads offset 4 again, the table skips it
    assert log == ["delivered", "commit"] and f.done == {}
