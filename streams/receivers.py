"""Local stand-ins for Slack and PagerDuty that record what they receive.

The demo and the end-to-end tests point the sink at these over real HTTP on 127.0.0.1. They
answer like the real services (Slack: 200 ``ok``; PagerDuty: 202 with a status body) and can be
told to fail the next requests with given status codes, to exercise retries.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from typing import Any

from aiohttp import web

SLACK_PATH = "/slack/webhook"
PAGERDUTY_PATH = "/pagerduty/v2/enqueue"
FLAG_PATH = "/flags/rollback"  # a feature-flag service's rollback webhook


class Receivers:
    """An aiohttp server recording Slack and PagerDuty requests."""

    def __init__(self) -> None:
        self.received: dict[str, list[dict[str, Any]]] = {"slack": [], "pagerduty": [], "flag": []}
        self.failures: dict[str, deque[int]] = {
            "slack": deque(),
            "pagerduty": deque(),
            "flag": deque(),
        }
        self._runner: web.AppRunner | None = None
        self.port = 0

    def fail_next(self, receiver: str, *statuses: int) -> None:
        """Answer the next requests to ``receiver`` with these status codes, in order."""
        self.failures[receiver].extend(statuses)

    async def _slack(self, request: web.Request) -> web.Response:
        if self.failures["slack"]:
            return web.Response(status=self.failures["slack"].popleft(), text="failure")
        body = await request.json()
        self.received["slack"].append({"at": time.time(), "body": body})
        return web.Response(text="ok")

    async def _pagerduty(self, request: web.Request) -> web.Response:
        if self.failures["pagerduty"]:
            return web.json_response(
                {"status": "error"}, status=self.failures["pagerduty"].popleft()
            )
        body = await request.json()
        if not body.get("routing_key") or body.get("event_action") not in (
            "trigger",
            "resolve",
            "acknowledge",
        ):
            return web.json_response({"status": "invalid event"}, status=400)
        self.received["pagerduty"].append({"at": time.time(), "body": body})
        return web.json_response(
            {"status": "success", "message": "Event processed", "dedup_key": body.get("dedup_key")},
            status=202,
        )

    async def _flag(self, request: web.Request) -> web.Response:
        if self.failures["flag"]:
            return web.json_response({"ok": False}, status=self.failures["flag"].popleft())
        self.received["flag"].append({"at": time.time(), "body": await request.json()})
        return web.json_response({"ok": True})

    async def _dump(self, request: web.Request) -> web.Response:
        return web.json_response(self.received)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> Receivers:
        """Listen on host:port (0 = any free port, see ``self.port``)."""
        app = web.Application()
        app.router.add_post(SLACK_PATH, self._slack)
        # Real webhook URLs carry their secret in the path (/services/T.../B.../XXXX).
        app.router.add_post(SLACK_PATH + "/{secret:.+}", self._slack)
        app.router.add_post(PAGERDUTY_PATH, self._pagerduty)
        app.router.add_post(FLAG_PATH, self._flag)
        app.router.add_get("/received", self._dump)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        """Close the server."""
        if self._runner is not None:
            await self._runner.cleanup()

    def env(self, routing_key: str = "local-routing-key") -> dict[str, str]:
        """Environment variables pointing the shipped config's receivers here."""
        base = f"http://127.0.0.1:{self.port}"
        return {
            "SLACK_WEBHOOK_URL": base + SLACK_PATH,
            "PAGERDUTY_ROUTING_KEY": routing_key,
            "PAGERDUTY_EVENTS_URL": base + PAGERDUTY_PATH,
            "FLAG_WEBHOOK_URL": base + FLAG_PATH,
        }


class ReceiversThread:
    """Receivers on their own event loop in a background thread, for synchronous callers."""

    def __init__(self) -> None:
        self.receivers = Receivers()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> Receivers:
        """Start the loop thread and the server; returns the Receivers."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.receivers.start(), self._loop).result(10)
        return self.receivers

    def call(self, fn: Any, *args: Any) -> Any:
        """Run a plain function on the receivers' loop (thread-safe reads and writes)."""

        async def run() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

    def stop(self) -> None:
        """Stop the server and the loop thread."""
        asyncio.run_coroutine_threadsafe(self.receivers.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
