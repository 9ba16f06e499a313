"""Running the Faust worker: create topics first, then hand the app to Faust's Worker."""

from __future__ import annotations

import asyncio
import logging

import faust

from streams.app import Runtime, build_app
from streams.compat import install_highwater_shim
from streams.config import Config
from streams.topics import ensure_topics

log = logging.getLogger(__name__)


def run_worker(cfg: Config, rt: Runtime, loglevel: str = "info") -> None:
    """Run until SIGINT/SIGTERM; raises SystemExit with Faust's exit code."""
    created = asyncio.run(ensure_topics(rt.broker, cfg.settings.partitions, rt.security))
    if created:
        log.info("created topics %s with %d partitions", created, cfg.settings.partitions)
    # Faust looks up the current event loop; asyncio.run closed the one it made.
    asyncio.set_event_loop(asyncio.new_event_loop())
    if rt.tansu_compat:
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
    faust.Worker(w.app, loglevel=loglevel, quiet=True).execute_from_commandline()
