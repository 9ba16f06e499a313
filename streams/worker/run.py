"""Running the Faust worker: create topics first, then hand the app to Faust's Worker."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any

import faust

from streams.config.model import Config
from streams.kafka.broker_probe import BrokerInfo, probe
from streams.kafka.compat import install_highwater_shim
from streams.kafka.topics import ensure_topics
from streams.runtime.log_format import (
    COORDINATOR_LOGGER,
    SERVER_LOGGER,
    JsonFormatter,
    MalformedRequestAsWarning,
    RetriableAsWarning,
)
from streams.runtime.wiring import Runtime
from streams.worker.app import build_app

log = logging.getLogger(__name__)


def tansu_compat(setting: str, info: BrokerInfo) -> bool:
    """Whether the embedded broker's recovery shim applies: as set, or (auto) when the broker
    is the embedded one, whatever address it has."""
    if setting != "auto":
        return setting == "tansu"
    return info.kind == "embedded"


ENGINE_LOGGERS = ("faust", "mode", "aiokafka")


class Worker(faust.Worker):
    """Faust's worker with sloburn's logging: the engine's own loggers at WARNING unless the
    level asked is debug (its tables of partitions and offsets at every rebalance buried the
    worker's own lines), and one JSON object per line on request, for log pipelines."""

    def __init__(self, *args: Any, log_format: str = "text", **kwargs: Any) -> None:
        self.log_format = log_format
        super().__init__(*args, **kwargs)

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        super().on_setup_root_logger(logger, level)
        if level > logging.DEBUG:
            for name in ENGINE_LOGGERS:
                logging.getLogger(name).setLevel(logging.WARNING)
        logging.getLogger(COORDINATOR_LOGGER).addFilter(RetriableAsWarning())
        logging.getLogger(SERVER_LOGGER).addFilter(MalformedRequestAsWarning())
        if self.log_format == "json":
            for handler in logger.handlers:
                handler.setFormatter(JsonFormatter())

    async def on_startup_finished(self) -> None:
        """Say it once started, in sloburn's own log (Faust's 'Ready' is below warning)."""
        await super().on_startup_finished()
        conf = self.app.conf
        log.info("worker ready: http://%s:%s", conf.web_host, conf.web_port)


def run_worker(cfg: Config, rt: Runtime, loglevel: str = "info", log_format: str = "text") -> None:
    """Run until SIGINT/SIGTERM; raises SystemExit with Faust's exit code."""
    info = asyncio.run(probe(rt.broker, rt.security))
    if rt.processing_guarantee == "exactly_once":
        # Faust puts a record in the transaction of the partition it is written to; ingest
        # writes an outcome's SLI records to its SLO's partition, not the outcome's, so a kill
        # can commit the outcome's offset while its records are aborted (README "Exactly once").
        raise SystemExit(
            "worker: --processing-guarantee exactly_once is not offered: Faust's transactions "
            "follow the partition written to, sloburn repartitions by SLO, so a kill -9 can "
            "lose counts (measured); at_least_once with offset dedup is exact"
        )
    replication = cfg.settings.replication_factor or info.default_replication()
    rt = replace(rt, replication=replication)
    created = asyncio.run(
        ensure_topics(
            rt.broker,
            cfg.settings.partitions,
            rt.security,
            replication,
            inputs=tuple(t.topic for t in cfg.otlp.kafka_topics),
        )
    )
    log.info(
        "broker %s: %s, cluster %s, %d broker(s); topics created with %d replica(s); %s",
        rt.broker,
        "Apache Kafka" if info.kind == "kafka" else "embedded broker (no transactions)",
        info.cluster_id,
        info.brokers,
        replication,
        rt.processing_guarantee,
    )
    if created:
        log.info("created topics %s with %d partitions", created, cfg.settings.partitions)
    # Faust looks up the current event loop; asyncio.run closed the one it made.
    asyncio.set_event_loop(asyncio.new_event_loop())
    if tansu_compat(rt.broker_compat, info):
        install_highwater_shim(rt.broker)
        log.info("embedded-broker compatibility: recovery high watermarks taken from Fetch")
    w = build_app(cfg, rt)
    for line in cfg.warnings:
        log.warning("config: %s", line)
    log.info(
        "worker: %d SLOs of %d services from %s; broker %s; web http://%s:%d",
        len(cfg.slos),
        len(cfg.services),
        ", ".join(cfg.sources),
        rt.broker,
        rt.web_host,
        rt.web_port,
    )
    Worker(w.app, loglevel=loglevel, quiet=True, log_format=log_format).execute_from_commandline()
