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
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

SLACK_PATH = "/slack/webhook"
PAGERDUTY_PATH = "/pagerduty/v2/enqueue"
FLAG_PATH = "/flags/rollback"  # a feature-flag service's rollback webhook

# What Slack answers, by status, when told to fail (its webhook error bodies are plain text).
SLACK_ERRORS = {
    400: "invalid_payload",
    403: "invalid_token",
    404: "channel_not_found",
    410: "channel_is_archived",
    429: "rate_limited",
    500: "rollup_error",
}
PD_SUMMARY_MAX = 1024
PD_BODY_MAX = 512 * 1024


@dataclass(frozen=True)
class Failure:
    """One scripted failure: a status, optional headers (``Retry-After``) and body."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None


class Receivers:
    """An aiohttp server recording Slack and PagerDuty requests.

    ``received`` holds accepted requests; ``attempts`` every request with its answer's status.
    """

    def __init__(self) -> None:
        self.received: dict[str, list[dict[str, Any]]] = {"slack": [], "pagerduty": [], "flag": []}
        self.attempts: dict[str, list[dict[str, Any]]] = {"slack": [], "pagerduty": [], "flag": []}
        self.failures: dict[str, deque[Failure]] = {
            "slack": deque(),
            "pagerduty": deque(),
            "flag": deque(),
        }
        self._runner: web.AppRunner | None = None
        self.port = 0

    def fail_next(self, receiver: str, *answers: int | Failure) -> None:
        """Answer the next requests to ``receiver`` with these failures, in order."""
        self.failures[receiver].extend(a if isinstance(a, Failure) else Failure(a) for a in answers)

    def _attempt(self, receiver: str, status: int, body: Any) -> None:
        self.attempts[receiver].append({"at": time.time(), "status": status, "body": body})

    async def _slack(self, request: web.Request) -> web.Response:
        raw = await request.read()
        body = orjson.loads(raw) if raw else None
        if self.failures["slack"]:
            f = self.failures["slack"].popleft()
            self._attempt("slack", f.status, body)
            text = f.body if f.body is not None else SLACK_ERRORS.get(f.status, "failure")
            return web.Response(status=f.status, text=text, headers=f.headers)
        if not isinstance(body, dict) or not (body.get("text") or body.get("blocks")):
            self._attempt("slack", 400, body)
            return web.Response(status=400, text="no_text")
        self._attempt("slack", 200, body)
        self.received["slack"].append({"at": time.time(), "body": body, "path": request.path})
        return web.Response(text="ok")

    async def _pagerduty(self, request: web.Request) -> web.Response:
        raw = await request.read()
        body = orjson.loads(raw) if raw else None
        if self.failures["pagerduty"]:
            f = self.failures["pagerduty"].popleft()
            self._attempt("pagerduty", f.status, body)
            if f.body is not None:
                return web.Response(status=f.status, text=f.body, headers=f.headers)
            message = "Rate limit reached" if f.status == 429 else "Internal error"
            return web.json_response(
                {"status": "error", "message": message}, status=f.status, headers=f.headers
            )
        errors = _pagerduty_errors(body, len(raw))
        if errors or not isinstance(body, dict):
            self._attempt("pagerduty", 400, body)
            return web.json_response(
                {"status": "invalid event", "message": "Event object is invalid", "errors": errors},
                status=400,
            )
        self._attempt("pagerduty", 202, body)
        self.received["pagerduty"].append({"at": time.time(), "body": body})
        return web.json_response(
            {"status": "success", "message": "Event processed", "dedup_key": body.get("dedup_key")},
            status=202,
        )

    async def _flag(self, request: web.Request) -> web.Response:
        if self.failures["flag"]:
            return web.json_response({"ok": False}, status=self.failures["flag"].popleft().status)
        self.received["flag"].append({"at": time.time(), "body": await request.json()})
        return web.json_response({"ok": True})

    async def _dump(self, request: web.Request) -> web.Response:
        return web.json_response({"received": self.received, "attempts": self.attempts})

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


def _pagerduty_errors(body: Any, size: int) -> list[str]:
    """What the Events API v2 would reject in ``body`` (its 400 ``errors`` list)."""
    if not isinstance(body, dict):
        return ["Event object is not a JSON object"]
    errors = []
    if size > PD_BODY_MAX:
        errors.append("Event object is larger than 512 KB")
    if not body.get("routing_key"):
        errors.append("'routing_key' is missing or blank")
    action = body.get("event_action")
    if action not in ("trigger", "acknowledge", "resolve"):
        errors.append("'event_action' is invalid (must be one of trigger, acknowledge, resolve)")
    if action in ("acknowledge", "resolve") and not body.get("dedup_key"):
        errors.append("'dedup_key' is required for acknowledge and resolve")
    if action == "trigger":
        found = body.get("payload")
        payload: dict[str, Any] = found if isinstance(found, dict) else {}
        summary = payload.get("summary")
        if not isinstance(summary, str) or not 1 <= len(summary) <= PD_SUMMARY_MAX:
            errors.append("Length of 'summary' is incorrect (should be 1..1024 characters)")
        if not payload.get("source"):
            errors.append("'source' is missing or blank")
        if payload.get("severity") not in ("critical", "error", "warning", "info"):
            errors.append("'severity' is invalid (must be critical, error, warning or info)")
    return errors


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
