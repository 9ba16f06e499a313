"""The worker's HTTP server: Faust's aiohttp server with a deadline on request heads.

aiohttp has no header read timeout: a client sending one byte every few seconds holds a
connection (and its memory) forever, and enough of them exhaust the worker's file descriptors
(slowloris). Every connection here must deliver each request's head within HEAD_TIMEOUT_S of
connecting or of its previous response, as Go's ReadHeaderTimeout and nginx's
client_header_timeout do; an idle keep-alive connection is closed after the same time.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.web import AppRunner
from aiohttp.web_protocol import RequestHandler
from faust.web.drivers.aiohttp import Web

from streams.runtime.log_format import ENGINE_LOGGER

HEAD_TIMEOUT_S = 10.0
CHECK_EVERY_S = 1.0


class _HeadDeadline:
    """Protocol factory around aiohttp's: watches each connection it makes."""

    def __init__(self, make: Any, timeout_s: float) -> None:
        self.make, self.timeout_s = make, timeout_s

    def __call__(self) -> RequestHandler:
        handler: RequestHandler = self.make()
        loop = asyncio.get_running_loop()
        since, served = [loop.time()], [0]

        def check() -> None:
            transport = handler.transport
            if transport is not None and transport.is_closing():
                return
            # A head was parsed (a request queued, being handled, or served since the last
            # look): the clock restarts, so the next head is timed from this request on.
            busy = handler._current_request is not None or bool(handler._messages)
            if busy or handler._request_count != served[0]:
                since[0], served[0] = loop.time(), handler._request_count
            elif loop.time() - since[0] > self.timeout_s:
                if transport is not None:
                    transport.close()
                return
            loop.call_later(CHECK_EVERY_S, check)

        loop.call_later(CHECK_EVERY_S, check)
        return handler


class _Runner(AppRunner):
    @property
    def server(self) -> Any:
        inner = super().server
        return None if inner is None else _HeadDeadline(inner, HEAD_TIMEOUT_S)


class GuardedWeb(Web):
    """Faust's aiohttp web driver, serving through _Runner."""

    logger = ENGINE_LOGGER

    def __init__(self, app: Any, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._runner = _Runner(self.web_app, access_log=None)
