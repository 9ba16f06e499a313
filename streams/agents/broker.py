"""Broker watch timer: once a second, is the broker there and still the same incarnation?"""

from __future__ import annotations

import logging
import time
from typing import Any, cast

from streams.app import Wiring

log = logging.getLogger(__name__)


def register(w: Wiring) -> None:
    """Attach the broker-watch timer to the app."""
    bw, m = w.broker_watch, w.metrics
    m.broker_up.set(1)
    seen_outages = 0

    @w.app.timer(interval=1.0, name="broker-watch")
    async def watch() -> None:
        nonlocal seen_outages
        try:
            await bw.check()
        except Exception:  # a raising timer stops the worker; a failed look must not
            log.exception("broker watch failed")
        m.broker_up.set(1 if bw.up else 0)
        m.broker_outage_seconds.set(bw.outage_seconds(time.time()))
        if bw.outages > seen_outages:
            m.broker_outages.inc(bw.outages - seen_outages)
            seen_outages = bw.outages

    async def close_watch(app: Any, *args: Any, **kwargs: Any) -> None:
        await bw.close()

    w.app.on_before_shutdown.connect(cast(Any, close_watch))
