"""Broker watch timer: once a second, is the broker there and still the same incarnation?"""

from __future__ import annotations

import logging
import time
from typing import Any, cast

from streams.runtime.containment import restart_in_place
from streams.runtime.wiring import Wiring

log = logging.getLogger(__name__)


class Watchdog:
    """The broker-watch timer's state: how many outages the metrics have counted."""

    def __init__(self, w: Wiring) -> None:
        self.w = w
        self.seen_outages = 0
        w.metrics.broker_up.set(1)

    async def tick(self) -> None:
        """Look at the broker, publish what was seen, restart if it is a new incarnation."""
        bw, m = self.w.broker_watch, self.w.metrics
        try:
            await bw.check()
        except Exception:  # a raising timer stops the worker; a failed look must not
            log.exception("broker watch failed")
        m.broker_up.set(1 if bw.up else 0)
        m.broker_outage_seconds.set(bw.outage_seconds(time.time()))
        if bw.outages > self.seen_outages:
            m.broker_outages.inc(bw.outages - self.seen_outages)
            self.seen_outages = bw.outages
        if bw.replaced:
            restart_in_place("the broker is a new incarnation")


def register(w: Wiring) -> None:
    """Attach the broker-watch timer to the app."""
    state = Watchdog(w)

    @w.app.timer(interval=1.0, name="broker-watch")
    async def watch() -> None:
        await state.tick()

    async def close_watch(app: Any, *args: Any, **kwargs: Any) -> None:
        await w.broker_watch.close()

    w.app.on_before_shutdown.connect(cast(Any, close_watch))
