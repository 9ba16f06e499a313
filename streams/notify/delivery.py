"""What to do after each HTTP attempt, and the bounded retry loop around a receiver.

The decision table (pure, tested exhaustively) follows Alertmanager where it is right and fixes
it where it is not: a Slack 429 is retried after Retry-After instead of being dropped.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

import aiohttp

Receiver = Literal["slack", "pagerduty", "webhook"]  # webhook: a feature-flag service, any 2xx


@dataclass(frozen=True)
class Decision:
    """``ok``: delivered; ``retry`` after ``delay_s`` seconds; ``give_up``: DLQ with ``reason``."""

    kind: Literal["ok", "retry", "give_up"]
    delay_s: float = 0.0
    reason: str = ""


def _parse_retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def decide(
    receiver: Receiver,
    status: int | None,
    body: str,
    retry_after: str | None,
    attempt: int,
    jitter: float,
) -> Decision:
    """Decision after attempt number ``attempt`` (0-based).

    ``status`` None means a timeout or connection error; ``jitter`` is a uniform draw in [0, 1).
    """
    if status is not None:
        if receiver == "slack" and status == 200:
            return (
                Decision("ok")
                if body.strip() == "ok"
                else Decision(
                    "give_up", reason=f"slack answered 200 with {body[:200]!r}, expected 'ok'"
                )
            )
        if receiver == "pagerduty" and status == 202:
            return Decision("ok")
        if receiver == "webhook" and 200 <= status < 300:
            return Decision("ok")
        if status == 429:
            if receiver != "pagerduty":
                # Retry-After is whole seconds; 0 or garbage would spin, so at least 1 s.
                after = _parse_retry_after(retry_after)
                return Decision("retry", max(1.0, after or 0.0), f"{receiver} rate limited")
            return Decision("retry", min(300.0, 30.0 * 2**attempt), "pagerduty rate limited")
        if status < 500:
            return Decision(
                "give_up", reason=f"{receiver} rejected the request: HTTP {status} {body[:200]!r}"
            )
    ceiling = min(60.0, 0.5 * 1.5 ** min(attempt, 32))  # 1.5**11 already passes the cap
    why = "no response" if status is None else f"HTTP {status}"
    return Decision("retry", ceiling / 2 + jitter * ceiling / 2, f"{receiver}: {why}")


@dataclass(frozen=True)
class Outcome:
    """How a delivery ended: delivered or not, after how many attempts, and why not."""

    delivered: bool
    attempts: int
    reason: str = ""


async def deliver(
    session: aiohttp.ClientSession,
    receiver: Receiver,
    url: str,
    payload: dict[str, object],
    *,
    give_up_after_s: float = 600.0,
    timeout_s: float = 10.0,
    on_retry: Callable[[Decision], None] = lambda d: None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rng: random.Random | None = None,
) -> Outcome:
    """POST ``payload`` as JSON until a decision ends it or ``give_up_after_s`` is spent.

    The budget counts both the backoff waits and the time the attempts themselves took.
    """
    rng = rng or random.Random()
    waited = 0.0
    attempt = 0
    while True:
        started = time.monotonic()
        status: int | None = None
        body, retry_after = "", None
        try:
            async with session.post(
                url, json=payload, timeout=aiohttp.ClientTimeout(total=timeout_s)
            ) as resp:
                status, body = resp.status, await resp.text()
                retry_after = resp.headers.get("Retry-After")
        except (TimeoutError, aiohttp.ClientError) as e:
            body = type(e).__name__
        d = decide(receiver, status, body, retry_after, attempt, rng.random())
        waited += time.monotonic() - started
        attempt += 1
        if d.kind == "ok":
            return Outcome(True, attempt)
        if d.kind == "give_up":
            return Outcome(False, attempt, d.reason)
        if waited + d.delay_s > give_up_after_s:
            return Outcome(False, attempt, f"gave up after {attempt} attempts: {d.reason}")
        on_retry(d)
        waited += d.delay_s
        await sleep(d.delay_s)
