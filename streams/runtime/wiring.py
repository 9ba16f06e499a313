"""What the agents and views share, typed: the config, the topics and tables, the published
results. Agents and views import this module; the module that builds the app imports them, so
there is no cycle."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import faust
from faust.types import TableT, TopicT

from streams.config.kafka_security import KafkaSecurity
from streams.config.model import Config
from streams.core.clocks import SloClock
from streams.core.exclusions import Exclusion
from streams.core.silences import Silence
from streams.kafka import topics
from streams.kafka.broker_watch import BrokerWatch
from streams.runtime.metrics import Metrics
from streams.runtime.published import Published
from streams.state.buckets import BucketStore
from streams.state.evaluation import Evaluator


@dataclass(frozen=True)
class Runtime:
    """Where the worker connects and listens."""

    broker: str = "127.0.0.1:9092"
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    data_dir: str = "./data"
    app_id: str = topics.APP_ID
    # Replay mode: no wall-clock evaluation and no notifications; a replay driver asks for
    # evaluations at event times over HTTP (sloburn replay --via-broker).
    replay_mode: bool = False
    # "tansu": correct table-recovery high watermarks (streams.kafka.compat); "none": plain Faust;
    # "auto": decided by what the broker says it is (streams.kafka.broker_probe).
    broker_compat: str = "auto"
    security: KafkaSecurity = field(default_factory=KafkaSecurity)  # TLS / SASL to the brokers
    # "at_least_once" (offset dedup makes counts exact); run_worker refuses "exactly_once"
    # (README "Exactly once": Faust's transactions do not cover repartitioning by SLO).
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
    outcomes: TopicT
    outcomes_dlq: TopicT
    sli: TopicT
    alerts: TopicT
    notifications_dlq: TopicT
    decisions: TopicT
    silences_topic: TopicT
    control_topic: TopicT
    buckets: BucketStore
    alert_states: TableT
    gate_state: TableT
    notification_log: TableT
    evaluator: Evaluator
    runtime: Runtime
    broker_watch: BrokerWatch
    published: Published = field(default_factory=Published)
    silences: dict[str, Silence] = field(default_factory=dict)  # by id, from sloburn.silences
    exclusions: dict[str, Exclusion] = field(default_factory=dict)  # by id, from sloburn.control
    clocks: dict[str, SloClock] = field(default_factory=dict)
    throughput: Throughput = field(default_factory=Throughput)
    # Started with the app, beside table recovery (streams.runtime.faust_app.SloburnApp)
    early_tasks: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    gate_lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # streams.runtime.agents.gate
