"""The Faust app: its topics and tables, and the agents, timer and views wired onto them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import faust
from faust.serializers import codecs

from streams.config.kafka_security import KafkaSecurity
from streams.config.model import Config
from streams.core.clocks import SloClock
from streams.core.exclusions import Exclusion
from streams.core.silences import Silence
from streams.kafka import topics
from streams.kafka.broker_watch import BrokerWatch
from streams.runtime.metrics import Metrics
from streams.runtime.published import Published
from streams.runtime.web_server import SloburnApp
from streams.state.buckets import BucketStore, decode_block, encode_block, owner_of_key
from streams.state.evaluation import Evaluator


class SloTable(faust.Table):
    """A table whose key ``"<slo id>|..."`` fixes its partition: the SLO's partition.

    Faust places a changelog write on the partition of the event being processed, which does not
    exist inside ``take_events`` batches or a timer. Deriving it from the key keeps every record
    of an SLO in the partition its SLI records use, so recovery after a rebalance brings the
    SLO's whole state to the worker that owns it.
    """

    def partition_for_key(self, key: Any) -> int | None:
        return topics.partition_for_slo(owner_of_key(str(key)), self.partitions or 1)


class BlockCodec(codecs.Codec):
    """Bucket blocks hold packed cell arrays, which Faust's json codec cannot write."""

    def _dumps(self, obj: Any) -> bytes:
        return encode_block(obj)

    def _loads(self, s: bytes) -> Any:
        return decode_block(s)


BLOCK_CODEC = "sloburn-block"
codecs.register(BLOCK_CODEC, BlockCodec())


@dataclass(frozen=True)
class Runtime:
    """Where the worker connects and listens."""

    broker: str = "127.0.0.1:9092"
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    data_dir: str = "./data"
    app_id: str = "sloburn"
    # Replay mode: no wall-clock evaluation and no notifications; a replay driver asks for
    # evaluations at event times over HTTP (sloburn replay --via-broker).
    replay_mode: bool = False
    # "tansu": correct table-recovery high watermarks (streams.kafka.compat); "none": plain Faust;
    # "auto": decided by what the broker says it is (streams.kafka.broker_probe).
    broker_compat: str = "auto"
    security: KafkaSecurity = field(default_factory=KafkaSecurity)  # TLS / SASL to the brokers
    # "at_least_once" (offset dedup makes counts exact) or "exactly_once" (Kafka transactions
    # on top; Apache Kafka only). README "Exactly once" has the measurements.
    processing_guarantee: str = "at_least_once"
    # Replicas of the topics and changelogs the worker creates (run_worker sets it from the
    # config, else from the broker).
    replication: int = 1


@dataclass
class Throughput:
    """How far the pipeline got, so a replay driver knows when everything sent is counted."""

    outcomes: int = 0  # outcome objects (and undecodable messages) ingest has judged
    sli_sent: int = 0
    sli_applied: int = 0
    rejected: dict[str, int] = field(default_factory=dict)


@dataclass
class Wiring:
    """Everything the agents share: config, topics, tables and the published results."""

    app: faust.App
    cfg: Config
    metrics: Metrics
    outcomes: Any
    outcomes_dlq: Any
    sli: Any
    alerts: Any
    notifications_dlq: Any
    decisions: Any
    silences_topic: Any
    control_topic: Any
    buckets: BucketStore
    alert_states: Any
    gate_state: Any
    notification_log: Any
    evaluator: Evaluator
    runtime: Runtime
    broker_watch: BrokerWatch
    published: Published = field(default_factory=Published)
    silences: dict[str, Silence] = field(default_factory=dict)  # by id, from sloburn.silences
    exclusions: dict[str, Exclusion] = field(default_factory=dict)  # by id, from sloburn.control
    clocks: dict[str, SloClock] = field(default_factory=dict)
    throughput: Throughput = field(default_factory=Throughput)
    gate_lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # streams.runtime.agents.gate


def _slo_table(
    app: faust.App, name: str, partitions: int, help_text: str, codec: str = "json"
) -> Any:
    table = SloTable(
        app,
        name=name,
        default=None,
        beacon=app.tables.beacon,
        partitions=partitions,
        key_type=str,  # json-serialised keys
        help=help_text,
    )
    table.value_serializer = codec  # before its store and changelog topic exist
    return app.tables.add(table)


def build_app(cfg: Config, rt: Runtime) -> Wiring:
    """Create the app, declare topics and tables, and register agents, timer and views."""
    n = cfg.settings.partitions
    app = SloburnApp(
        rt.app_id,
        broker=f"kafka://{rt.broker}",
        store="memory://",
        datadir=rt.data_dir,
        web_bind=rt.web_host,
        web_host=rt.web_host,
        web_port=rt.web_port,
        topic_partitions=n,
        topic_replication_factor=rt.replication,
        processing_guarantee=rt.processing_guarantee,
        broker_session_timeout=10,
        broker_commit_interval=cfg.settings.commit_interval_seconds,
        table_standby_replicas=cfg.settings.standby_replicas,
        broker_heartbeat_interval=1,
        producer_linger=0.01,
        # Per partition per fetch. Faust's 1 MiB default starved ingest of 100-outcome
        # messages (measured: 130k outcomes/s; 230k with 8 MiB, no gain beyond).
        consumer_max_fetch_size=8 * 2**20,
        producer_max_batch_size=262144,
        autodiscover=False,
        web_enabled=True,
        # Faust's own pages would serve raw table contents (overrides, buckets): off.
        web_router_enabled=False,
        web_tables_enabled=False,
        web_graph_enabled=False,
        web_stats_enabled=False,
        web_metrics_enabled=False,
        broker_credentials=rt.security.faust_credentials(),
    )

    def topic(name: str) -> Any:
        return app.topic(
            name, partitions=n, key_serializer="raw", value_serializer="raw", internal=False
        )

    buckets = BucketStore(
        _slo_table(app, "buckets", n, "Event-time buckets per SLO, hour and day", BLOCK_CODEC),
        cfg.settings.bucket_seconds,
        cfg.slicing,
    )
    alert_states = _slo_table(app, "alert-states", n, "Alert rule and budget state per SLO")
    w = Wiring(
        app=app,
        cfg=cfg,
        metrics=Metrics(),
        outcomes=topic(topics.OUTCOMES),
        outcomes_dlq=topic(topics.OUTCOMES_DLQ),
        sli=topic(topics.SLI),
        alerts=topic(topics.ALERTS),
        notifications_dlq=topic(topics.NOTIFICATIONS_DLQ),
        decisions=topic(topics.DECISIONS),
        silences_topic=topic(topics.SILENCES),
        control_topic=topic(topics.CONTROL),
        buckets=buckets,
        alert_states=alert_states,
        gate_state=_slo_table(
            app, "gate-state", n, "Per service: last decision, override; per SLO: rollbacks"
        ),
        notification_log=_slo_table(
            app, "notification-log", n, "What was last sent per alert group and receiver"
        ),
        evaluator=Evaluator(buckets, alert_states, cfg.settings.allowed_lateness_seconds),
        runtime=rt,
        broker_watch=BrokerWatch(rt.broker, rt.security, n, rt.replication),
    )
    # Imported here: each module registers onto the app it is handed.
    from streams.http import api
    from streams.runtime import reload
    from streams.runtime.agents import broker, evaluator, gate, ingest, silences, sink, windows

    modules = (
        (ingest, windows, broker, api)
        if rt.replay_mode
        else (ingest, windows, broker, evaluator, silences, sink, gate, api, reload)
    )
    for module in modules:
        module.register(w)
    return w
