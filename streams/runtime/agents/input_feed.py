"""Reading the input topics (outcomes, and the OTLP topics of the config) with a plain aiokafka
consumer in its own group, ``sloburn-ingest``, instead of a Faust agent.

Why not Faust: its stream costs 120-160 us a message before an agent sees it (measured with a
decode-only agent, bench.faust_loop), which capped 100-outcome messages at about a third of
what a bare consumer reads. Ingest needs none of what that cost buys: it keeps no table, and
what it publishes is deduplicated downstream (the window table skips a source offset its block
already holds), so at-least-once delivery is all it needs.

The guarantee, kept by hand: a batch's offsets are committed only after every record it
produced (SLI records and dead letters) was acknowledged by the broker. Publishing that fails
stops the worker before any commit (streams.runtime.containment.stop_worker); a restart
re-reads from the last commit, and the table skips what it already holds. Commits run every
``commit_interval_seconds``, when partitions are taken away, and at a clean stop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from streams.ingest.otlp_reader import OtlpReader
from streams.ingest.otlp_wire import Encoding
from streams.kafka import topics
from streams.runtime.agents.ingest import Ingest
from streams.runtime.containment import stop_worker
from streams.runtime.wiring import Wiring

log = logging.getLogger(__name__)

BATCH_MAX = 5000  # messages a fetch hands ingest at most
BATCH_WITHIN_S = 0.1  # how long a fetch waits for messages when there are none


def consumer(w: Wiring) -> AIOKafkaConsumer:
    """The input consumer, set up as the worker's Faust consumer is where it matters (fetch
    size, session and heartbeat: read from the app's settings, not written twice)."""
    conf = w.app.conf
    return AIOKafkaConsumer(
        bootstrap_servers=w.runtime.broker,
        group_id=topics.INGEST_GROUP,
        client_id=topics.INGEST_GROUP,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=conf.consumer_max_fetch_size,
        session_timeout_ms=int(conf.broker_session_timeout * 1000),
        heartbeat_interval_ms=int(conf.broker_heartbeat_interval * 1000),
        **w.runtime.security.aiokafka_kwargs(),
    )


class Feed(ConsumerRebalanceListener):
    """One worker's input: fetch, judge (streams.runtime.agents.ingest.Ingest), publish, and
    commit what was published."""

    def __init__(self, w: Wiring, ingests: Mapping[str, Ingest]) -> None:
        self.w = w
        self.ingests = ingests  # topic -> its Ingest (the topic decides the format)
        self.consumer: AIOKafkaConsumer | None = None  # made in the worker's loop (connect)
        self.subscribed = asyncio.Event()
        self.pending: list[Awaitable[Any]] = []  # deliveries of what the offsets below hold
        self.done: dict[TopicPartition, int] = {}  # next offset, once published
        self.read: dict[TopicPartition, int] = {}  # next offset to read, for the lag
        self.committed_at = time.monotonic()

    async def connect(self) -> None:
        """Start the consumer and join the group, while Faust starts and recovers its tables:
        the embedded broker holds a group's first JoinGroup for 5 s, which used to delay the
        first outcome a restarted worker counted by as much."""
        while True:
            kafka = consumer(self.w)
            try:
                await kafka.start()
                break
            except KafkaError as exc:  # the broker went away since the worker's probe
                log.warning("ingest: cannot reach the broker yet (%s); retrying in 1 s", exc)
                await kafka.stop()
                await asyncio.sleep(1)
        kafka.subscribe(list(self.ingests), listener=self)  # the join goes on in the background
        self.consumer = kafka
        self.subscribed.set()

    async def run(self) -> None:
        """Until cancelled (the worker stops); a failure to publish stops the worker."""
        try:
            await self.subscribed.wait()
            kafka = self.consumer
            assert kafka is not None, "subscribed without a consumer"
            while True:
                batch = await kafka.getmany(
                    timeout_ms=int(BATCH_WITHIN_S * 1000), max_records=BATCH_MAX
                )
                await self.take(batch)
                await self.observe_lag()
                if time.monotonic() - self.committed_at >= self.interval():
                    await self.commit()
        except asyncio.CancelledError:
            await self.stop()
            raise
        except Exception as exc:  # judging or publishing failed: no offset past it commits
            stop_worker("ingest", exc)

    async def take(self, batch: Mapping[TopicPartition, list[Any]]) -> None:
        """Judge and publish one fetch; its offsets are committed once what it published is
        acknowledged."""
        by_topic: dict[str, list[Any]] = {}
        for tp, records in batch.items():
            by_topic.setdefault(tp.topic, []).extend(records)
        for topic, records in by_topic.items():
            self.pending.extend(await self.ingests[topic].batch(records))
        for tp, records in batch.items():
            if records:
                self.done[tp] = self.read[tp] = records[-1].offset + 1

    def interval(self) -> float:
        return float(self.w.cfg.settings.commit_interval_seconds)

    async def published(self) -> None:
        """Wait for the broker's acknowledgement of everything published so far. One it
        refused stops the worker here, wherever this was called from (a rebalance listener's
        error would only be logged by aiokafka): no offset past it may be committed."""
        pending, self.pending = self.pending, []
        try:
            await asyncio.gather(*pending)
        except Exception as exc:
            stop_worker("ingest", exc)

    async def commit(self, only: set[TopicPartition] | None = None) -> None:
        """Commit what was published, once acknowledged. A commit that fails costs nothing:
        whoever reads those messages next, this worker or a new owner after a rebalance,
        publishes them again, and the window table skips what it already holds."""
        await self.published()
        self.committed_at = time.monotonic()
        offsets = {tp: o for tp, o in self.done.items() if only is None or tp in only}
        if not offsets:
            return
        assert self.consumer is not None, "committing before run"
        try:
            await self.consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            log.info("ingest: commit refused after a rebalance (%s); re-reads are deduped", exc)
        except KafkaError as exc:
            log.warning("ingest: commit failed (%s); re-reads are deduped", exc)
        for tp in offsets:
            self.done.pop(tp, None)

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        """Commit what was published from partitions about to move, so their new owner
        starts after it."""
        await self.commit(set(revoked))
        for tp in revoked:
            self.read.pop(tp, None)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        """Nothing to do: the consumer starts each from its group's committed offset."""

    async def stop(self) -> None:
        """Commit what was published, then leave the group."""
        if self.consumer is None:  # stopped before it subscribed
            return
        try:
            await asyncio.wait_for(self.commit(), timeout=10)
        except TimeoutError:
            log.warning("ingest: no last commit within 10 s; re-reads are deduped")
        finally:
            await self.consumer.stop()

    async def observe_lag(self) -> None:
        """Unread messages per input topic in this worker's partitions (from the last fetch)."""
        kafka, lag = self.consumer, dict[str, int]()
        assert kafka is not None, "observing before run"
        for tp in kafka.assignment():
            end = kafka.highwater(tp)
            if end is None:  # not fetched yet: unknown, not zero
                continue
            if tp not in self.read:  # assigned, nothing read yet: from its committed offset
                try:
                    self.read[tp] = await kafka.position(tp)
                except IllegalStateError:  # taken away meanwhile
                    continue
            lag[tp.topic] = lag.get(tp.topic, 0) + max(0, end - self.read[tp])
        for topic, n in lag.items():
            self.w.metrics.consumer_lag.labels(topic).set(n)


def register(w: Wiring) -> None:
    """Read sloburn.outcomes and each OTLP topic of the config (topics are fixed for the
    worker's life, like partitions: streams.runtime.reload) once the worker is ready."""
    ingests = {topics.OUTCOMES: Ingest(w)}
    for source in w.cfg.otlp.kafka_topics:
        encoding: Encoding = "json" if source.encoding == "otlp_json" else "proto"
        ingests[source.topic] = Ingest(w, OtlpReader(encoding, w.metrics.otlp.tally))
    feed = Feed(w, ingests)
    w.early_tasks.append(feed.connect)

    @w.app.task
    async def read_inputs() -> None:
        await feed.run()
