"""``sloburn otlp``: the OTLP/HTTP receiver as a process of its own, so span intake scales
apart from the worker (run more behind a load balancer; they share nothing).

It serves POST /v1/traces (streams.http.otlp), /metrics and /healthz, produces to
``sloburn.outcomes`` with acks=all, and re-reads its config on SIGHUP (a bad config is
reported and the running one kept).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry, generate_latest

from streams.config.errors import ConfigError
from streams.config.kafka_security import KafkaSecurity
from streams.config.loading import load_config
from streams.config.model import Config
from streams.http.otlp import PATH, SEND_TIMEOUT_S, TracesReceiver, answer_request, delivered
from streams.kafka import topics
from streams.runtime.metrics import OtlpMetrics

log = logging.getLogger(__name__)


@dataclass
class Intake:
    """What ``sloburn otlp`` is given."""

    config_paths: list[str]
    cfg: Config
    broker: str
    host: str = "127.0.0.1"
    port: int = 4318  # OTLP/HTTP's registered port
    security: KafkaSecurity | None = None


def _reload(intake: Intake) -> None:
    try:
        intake.cfg = load_config(intake.config_paths)
    except ConfigError as e:
        for line in e.lines:
            log.error("reload failed, running config kept: %s", line)
        return
    log.info("config reloaded: %d SLOs", len(intake.cfg.slos))


def _web_app(receiver: TracesReceiver, registry: CollectorRegistry) -> web.Application:
    async def traces(request: web.Request) -> web.StreamResponse:
        a = await answer_request(receiver, request)
        return web.Response(
            body=a.body, status=a.status, content_type=a.content_type, headers=a.headers
        )

    async def metrics(request: web.Request) -> web.StreamResponse:
        return web.Response(body=generate_latest(registry), content_type="text/plain")

    async def healthz(request: web.Request) -> web.StreamResponse:
        return web.json_response({"status": "ok", "inflight": receiver.inflight})

    app = web.Application()
    app.router.add_post(PATH, traces)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    return app


async def serve(intake: Intake, started: Callable[[], None] = lambda: None) -> None:
    """Run until SIGTERM or SIGINT."""
    security = intake.security or KafkaSecurity()
    await topics.ensure_topics(intake.broker, intake.cfg.settings.partitions, security)
    producer = AIOKafkaProducer(
        bootstrap_servers=intake.broker,
        acks="all",
        linger_ms=5,
        request_timeout_ms=int(SEND_TIMEOUT_S * 1000),
        **security.aiokafka_kwargs(),
    )
    await producer.start()

    async def send(key: bytes, value: bytes) -> None:
        await delivered(await producer.send(topics.OUTCOMES, value, key=key))

    registry = CollectorRegistry()
    receiver = TracesReceiver(lambda: intake.cfg, send, OtlpMetrics(registry))
    runner = web.AppRunner(_web_app(receiver, registry), access_log=None)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, _reload, intake)
    try:
        await web.TCPSite(runner, intake.host, intake.port).start()
        started()
        await stop.wait()
    finally:
        await runner.cleanup()
        await producer.stop()
