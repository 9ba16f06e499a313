"""The Faust app with sloburn's settings, its topics and its SLO-partitioned tables."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import cached_property
from typing import Any

import faust
from faust.serializers import codecs
from faust.types.transports import ProducerT
from faust.web.drivers.aiohttp import Web

from streams.config.model import Config
from streams.kafka import topics
from streams.kafka.broker_watch import BrokerWatch
from streams.runtime.flow_control import FlowControl
from streams.runtime.log_format import ENGINE_LOGGER
from streams.runtime.metrics import Metrics
from streams.runtime.producer_buffer import DrainingProducerBuffer
from streams.runtime.web_server import GuardedWeb
from streams.runtime.wiring import Runtime, Wiring
from streams.state.blocks import decode_block, encode_block, owner_of_key
from streams.state.buckets import BucketStore
from streams.state.evaluation import Evaluator


class SloburnApp(faust.App):
    """The Faust app, with the guarded web server, a changelog buffer whose flush really
    waits (streams.runtime.producer_buffer) and flow control that keeps what it must
    (streams.runtime.flow_control)."""

    logger = ENGINE_LOGGER

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Started with the app, beside its own start and table recovery (Faust's tasks and
        # timers wait for recovery): for what needs no table, like joining a consumer group.
        self.early_tasks: list[Callable[[], Awaitable[None]]] = []

    async def on_start(self) -> None:
        await super().on_start()
        for task in self.early_tasks:
            self.add_future(task())

    def _new_web(self) -> Web:
        return GuardedWeb(self)

    @cached_property
    def flow_control(self) -> FlowControl:
        return FlowControl(loop=self.loop)

    def _new_producer(self) -> ProducerT:
        producer = super()._new_producer()
        buffer = DrainingProducerBuffer(loop=producer.loop, beacon=producer.beacon)
        buffer.app = self
        producer.buffer = buffer
        return producer


class SloTable(faust.Table):
    """A table whose key ``"<slo id>|..."`` fixes its partition: the SLO's partition.

    Faust places a changelog write on the partition of the event being processed, which does not
    exist inside ``take_events`` batches or a timer. Deriving it from the key keeps every record
    of an SLO in the partition its SLI records use, so recovery after a rebalance brings the
    SLO's whole state to the worker that owns it.
    """

    logger = ENGINE_LOGGER

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


# The same for every worker. Measured where a number is not Faust's default.
FIXED_SETTINGS: dict[str, Any] = {
    "store": "memory://",
    "broker_session_timeout": 10,
    "broker_heartbeat_interval": 1,
    "producer_linger": 0.01,
    # Per partition per fetch. Faust's 1 MiB default starved ingest of 100-outcome messages
    # (measured: 130k outcomes/s; 230k with 8 MiB, no gain beyond).
    "consumer_max_fetch_size": 8 * 2**20,
    "producer_max_batch_size": 262144,
    "autodiscover": False,
    "web_enabled": True,
    # Faust's own pages would serve raw table contents (overrides, buckets): off.
    "web_router_enabled": False,
    "web_tables_enabled": False,
    "web_graph_enabled": False,
    "web_stats_enabled": False,
    "web_metrics_enabled": False,
}


def faust_app(cfg: Config, rt: Runtime) -> SloburnApp:
    """The Faust app: the fixed settings, and what the config and command line decide."""
    return SloburnApp(
        rt.app_id,
        broker=f"kafka://{rt.broker}",
        datadir=rt.data_dir,
        web_bind=rt.web_host,
        web_host=rt.web_host,
        web_port=rt.web_port,
        topic_partitions=cfg.settings.partitions,
        topic_replication_factor=rt.replication,
        processing_guarantee=rt.processing_guarantee,
        broker_commit_interval=cfg.settings.commit_interval_seconds,
        table_standby_replicas=cfg.settings.standby_replicas,
        broker_credentials=rt.security.faust_credentials(),
        **FIXED_SETTINGS,
    )


def build_wiring(cfg: Config, rt: Runtime) -> Wiring:
    """Create the app and declare its topics and tables (agents and views come on top)."""
    n = cfg.settings.partitions
    app = faust_app(cfg, rt)

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
    app.early_tasks = w.early_tasks
    return w
