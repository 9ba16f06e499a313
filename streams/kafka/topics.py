"""Topic names and their explicit creation (the embedded broker auto-creates topics with its own
partition count, which Faust then rejects with PartitionsMismatch; so we create them first)."""

from __future__ import annotations

import contextlib
import zlib

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from streams.config.kafka_security import KafkaSecurity
from streams.kafka.broker_probe import probe

APP_ID = "sloburn"  # the worker's Faust app id, hence its consumer group
# The group reading the input topics (outcomes, OTLP) outside Faust; send --check reads its
# committed offsets (streams.runtime.agents.input_feed).
INGEST_GROUP = "sloburn-ingest"
OUTCOMES = "sloburn.outcomes"
OUTCOMES_DLQ = "sloburn.outcomes.dlq"
SLI = "sloburn.sli"
ALERTS = "sloburn.alerts"
NOTIFICATIONS_DLQ = "sloburn.notifications.dlq"
DECISIONS = "sloburn.decisions"  # audit: decision changes, overrides, rollback calls
SILENCES = "sloburn.silences"  # every silence as created or expired; each worker reads it all

CONTROL = "sloburn.control"  # maintenance windows and corrections; each worker reads it all
ALL = (OUTCOMES, OUTCOMES_DLQ, SLI, ALERTS, NOTIFICATIONS_DLQ, DECISIONS, SILENCES, CONTROL)


def partition_for_slo(slo_id: str, partitions: int) -> int:
    """The one partition holding all state of an SLO (SLI topic, tables, alerts alike).

    It follows the SLO's service (the part of ``<service>:<sli>`` before the colon; a bare
    service name maps the same way), so every SLO of a service lives on one partition and so
    on one worker: the release gate, which weighs all of a service's SLOs, then sees them all
    when the pipeline is spread over several workers. A stable hash we own, not the client's
    partitioner, so every component agrees on it.
    """
    return zlib.crc32(slo_id.split(":", 1)[0].encode()) % partitions


async def ensure_topics(
    bootstrap: str,
    partitions: int,
    security: KafkaSecurity | None = None,
    replication: int | None = None,
    inputs: tuple[str, ...] = (),
) -> list[str]:
    """Create the pipeline's topics and the extra ``inputs`` it reads (OTLP topics) if
    missing, ``replication`` replicas each (unset: what the broker calls for,
    streams.kafka.broker_probe); returns the ones created."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        client_id="sloburn-admin",
        **(security or KafkaSecurity()).aiokafka_kwargs(),
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in (*ALL, *inputs) if t not in existing]
        if missing:
            if replication is None:
                replication = (await probe(bootstrap, security)).default_replication()
            # A concurrent starter may win the race; the outcome is the same.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [
                        NewTopic(t, num_partitions=partitions, replication_factor=replication)
                        for t in missing
                    ]
                )
        return missing
    finally:
        await admin.close()
