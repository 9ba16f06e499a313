"""What the broker is, asked of the broker itself: Apache Kafka, or the embedded broker.

The two need different handling (the embedded broker's table-recovery shim, replication), and
both can listen on loopback, so the address says nothing. The ApiVersions answer does: Apache
Kafka has served OffsetForLeaderEpoch (key 23) since 0.11 and WriteTxnMarkers (key 27) since
transactions came in 0.11; the embedded broker (Tansu 0.6) offers neither, which is exactly why
it has no transactions and needs the shim. A broker that offers both is treated as Kafka (so
are Redpanda and other full implementations, rightly: they report ends correctly).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from aiokafka import AIOKafkaClient
from aiokafka.protocol.admin import ApiVersionRequest
from aiokafka.protocol.metadata import MetadataRequest

from streams.config.kafka_security import KafkaSecurity

BrokerKind = Literal["kafka", "embedded"]

OFFSET_FOR_LEADER_EPOCH = 23
WRITE_TXN_MARKERS = 27


def kind_from_api_keys(keys: Iterable[int]) -> BrokerKind:
    """Kafka when the broker serves leader epochs and transaction markers, else embedded."""
    have = set(keys)
    return "kafka" if {OFFSET_FOR_LEADER_EPOCH, WRITE_TXN_MARKERS} <= have else "embedded"


@dataclass(frozen=True)
class BrokerInfo:
    """One answer of the cluster: what it is, its cluster id, how many brokers it has."""

    kind: BrokerKind
    cluster_id: str
    brokers: int

    def default_replication(self) -> int:
        """Replicas per topic when the config does not say: 3 where the cluster has three
        brokers or more (Kafka's own default for its internal topics), else every broker.
        The embedded broker does not replicate: 1."""
        return 1 if self.kind == "embedded" else max(1, min(3, self.brokers))


async def probe(bootstrap: str, security: KafkaSecurity | None = None) -> BrokerInfo:
    """Ask one broker of ``bootstrap`` for its API versions and the cluster metadata."""
    client = AIOKafkaClient(
        bootstrap_servers=bootstrap,
        client_id="sloburn-probe",
        request_timeout_ms=10000,
        **(security or KafkaSecurity()).aiokafka_kwargs(),
    )
    await client.bootstrap()
    try:
        node = client.get_random_node()
        if node is None:
            raise ConnectionError(f"no broker of {bootstrap} answered")
        versions = await client.send(node, ApiVersionRequest())
        meta = await client.send(node, MetadataRequest([], allow_auto_topic_creation=False))
        return BrokerInfo(
            kind_from_api_keys(key for key, _lo, _hi in versions.api_versions),
            getattr(meta, "cluster_id", None) or "",
            len(meta.brokers),
        )
    finally:
        await client.close()
