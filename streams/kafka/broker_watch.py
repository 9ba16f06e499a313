"""Watching the broker: is it reachable, and is it still the same broker *incarnation*?

The embedded broker keeps everything in memory, so when it restarts its topics come back empty
and their offsets start again at 0. The windows table skips any contribution whose source offset
it has already applied (exactness across crashes), so records read from a new incarnation must
not be judged by the old one's marks; and the worker restarts itself in place once it sees the
change (streams.runtime.agents.watchdog). The incarnation is the broker's cluster id: the
embedded broker gets a fresh one at every start, Apache Kafka keeps its own for life (its
restarts lose nothing, so nothing must reset).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka import AIOKafkaClient
from aiokafka.protocol.metadata import MetadataRequest

from streams.config.kafka_security import KafkaSecurity
from streams.kafka import topics

log = logging.getLogger(__name__)

UNKNOWN_TOPIC = 3  # Kafka error code UNKNOWN_TOPIC_OR_PARTITION


@dataclass(frozen=True)
class BrokerView:
    """One successful look at the broker: its cluster id, which of our topics it lacks, and
    the ids of the brokers the cluster says are alive."""

    cluster_id: str
    missing_topics: tuple[str, ...]
    brokers: tuple[int, ...] = ()


async def look(client: AIOKafkaClient, names: Iterable[str]) -> BrokerView:
    """Ask the cluster for its id and the named topics, without auto-creating them (auto-
    creation would use the broker's partition count, not ours). Each known broker is asked in
    turn until one answers: in a cluster, one broker gone is no outage."""
    nodes = [b.nodeId for b in client.cluster.brokers()]
    random.shuffle(nodes)
    if not nodes and (node := client.get_random_node()) is not None:
        nodes = [node]
    if not nodes:
        raise ConnectionError("no broker known")
    failure: Exception | None = None
    for node in nodes:
        try:
            resp = await client.send(
                node, MetadataRequest(list(names), allow_auto_topic_creation=False)
            )
        except Exception as e:  # this broker is gone or not ready: ask the next one
            failure = e
            continue
        cluster_id = getattr(resp, "cluster_id", None) or ""
        missing = tuple(t[1] for t in resp.topics if t[0] == UNKNOWN_TOPIC)
        return BrokerView(cluster_id, missing, tuple(sorted(b[0] for b in resp.brokers)))
    raise ConnectionError(f"no broker of {len(nodes)} answered: {failure}")


class BrokerWatch:
    """Polls the broker once a second; tells /healthz, the metrics and the windows agent."""

    def __init__(
        self,
        bootstrap: str,
        security: KafkaSecurity,
        partitions: int,
        replication: int = 1,
        topic_names: tuple[str, ...] = topics.ALL,
    ) -> None:
        self.bootstrap = bootstrap
        self.security = security
        self.partitions = partitions
        self.replication = replication
        self.topic_names = topic_names
        self.up = True  # the worker started only after the broker answered
        self.down_since: float | None = None
        self.outages = 0
        self.cluster_id: str | None = None
        self._client: AIOKafkaClient | None = None
        self._lock = asyncio.Lock()  # the timer and the windows agent both look
        self.replaced = False  # the broker came back as another incarnation
        # Brokers of a cluster: every id ever seen alive, the ones alive at the last look, and
        # how often one left. A broker of several leaving is no outage (the others lead its
        # partitions), but on-call wants to see it next to the worker's health.
        self.known_brokers: set[int] = set()
        self.live_brokers: tuple[int, ...] = ()
        self.departures = 0

    async def _connected(self) -> AIOKafkaClient:
        if self._client is None:
            client = AIOKafkaClient(
                bootstrap_servers=self.bootstrap,
                client_id="sloburn-watch",
                request_timeout_ms=2000,
                **self.security.aiokafka_kwargs(),
            )
            try:
                await client.bootstrap()
            except BaseException:
                await client.close()
                raise
            self._client = client
        return self._client

    async def _drop(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()

    async def check(self) -> BrokerView | None:
        """One look; None (and the state marked down) when the broker does not answer."""
        async with self._lock:
            return await self._check()

    async def _look(self) -> BrokerView:
        """Look once; if the connection fails, once more on a fresh one: the broker it was
        connected to may have just left a cluster whose other brokers answer."""
        for attempt in (1, 2):
            try:
                return await look(await self._connected(), self.topic_names)
            except Exception:
                await self._drop()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _check(self) -> BrokerView | None:
        try:
            view = await self._look()
        except Exception as e:  # any failure to get an answer means: not reachable now
            if self.up:
                self.up, self.down_since = False, time.time()
                self.outages += 1
                log.error("broker %s unreachable (%s); retrying every second", self.bootstrap, e)
            return None
        if not self.up:
            log.warning(
                "broker %s reachable again after %.1fs",
                self.bootstrap,
                time.time() - (self.down_since or time.time()),
            )
            self.up, self.down_since = True, None
        if view.missing_topics:
            created = await topics.ensure_topics(
                self.bootstrap, self.partitions, self.security, self.replication
            )
            log.warning(
                "broker lost topics %s (memory storage restarted?); recreated %s, %d partitions",
                list(view.missing_topics),
                created,
                self.partitions,
            )
        self._note_brokers(view.brokers)
        # A Kafka controller failover keeps the cluster id (every node holds it from its
        # storage format); an answer without one says nothing either way.
        if not view.cluster_id:
            return view
        if self.cluster_id is not None and view.cluster_id != self.cluster_id:
            log.warning(
                "broker incarnation changed (cluster id %r -> %r): it lost every topic, offset "
                "and changelog; its offsets start again",
                self.cluster_id,
                view.cluster_id,
            )
            self.replaced = True
        self.cluster_id = view.cluster_id
        return view

    def _note_brokers(self, live: tuple[int, ...]) -> None:
        if not live:
            return
        gone = set(self.live_brokers) - set(live)
        back = (set(live) - set(self.live_brokers)) & self.known_brokers
        if gone:
            self.departures += len(gone)
            log.warning(
                "broker(s) %s left the cluster; %d of %d answer",
                sorted(gone),
                len(live),
                len(self.known_brokers),
            )
        if back:
            log.warning("broker(s) %s back in the cluster", sorted(back))
        self.known_brokers.update(live)
        self.live_brokers = live

    def cluster_health(self) -> dict[str, object]:
        """The cluster as /healthz shows it: id, brokers alive and missing, departures."""
        return {
            "cluster_id": self.cluster_id,
            "brokers_alive": list(self.live_brokers),
            "brokers_missing": sorted(self.known_brokers - set(self.live_brokers)),
            "broker_departures": self.departures,
        }

    async def incarnation(self) -> str:
        """The cluster id as the broker states it now; waits (retrying each second) while the
        broker does not answer, since nothing downstream can progress without it anyway."""
        while True:
            view = await self.check()
            if view is not None:
                return view.cluster_id
            await asyncio.sleep(1.0)

    def outage_seconds(self, now: float) -> float:
        """How long the current outage has lasted (0 while the broker answers)."""
        return 0.0 if self.down_since is None else now - self.down_since

    async def close(self) -> None:
        """Close the watch's connection."""
        await self._drop()
