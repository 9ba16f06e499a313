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

from streams.notify.ratelimit import OTHER, Limiter

Receiver = Literal["slack", "pagerduty", "webhook"]  # webhook: a feature-flag service, any 2xx


@dataclass(frozen=True)
class AttemptOutcome:
    """``ok``: delivered; ``retry`` after ``delay_s`` seconds; ``give_up``: DLQ with ``reason``."""

    kind: Literal["ok", "retry", "give_up"]
    delay_s: float = 0.0
    reason: str = ""
    misconfigured: bool = False  # the receiver's URL or key itself is wrong: a human must act


def _parse_retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def judge_attempt(
    receiver: Receiver,
    status: int | None,
    body: str,
    retry_after: str | None,
    attempt: int,
    jitter: float,
) -> AttemptOutcome:
    """AttemptOutcome after attempt number ``attempt`` (0-based).

    ``status`` None means a timeout or connection error; ``jitter`` is a uniform draw in [0, 1).
    """
    if status is not None:
        if receiver == "slack" and status == 200:
            return (
                AttemptOutcome("ok")
                if body.strip() == "ok"
                else AttemptOutcome(
                    "give_up", reason=f"slack answered 200 with {body[:200]!r}, expected 'ok'"
                )
            )
        if receiver == "pagerduty" and status == 202:
            return AttemptOutcome("ok")
        if receiver == "webhook" and 200 <= status < 300:
            return AttemptOutcome("ok")
        if status == 429:
            if receiver != "pagerduty":
                # Retry-After is whole seconds; 0 or garbage would spin, so at least 1 s.
                after = _parse_retry_after(retry_after)
                return AttemptOutcome("retry", max(1.0, after or 0.0), f"{receiver} rate limited")
            # The receiver knows its limit: a Retry-After is honoured as sent (at least 1 s, at
            # most 5 min), shorter than our floor too, so one 429 never delays a page a minute.
            # Without one, back off from 30 s (capped at 5 min), as PagerDuty advises.
            after = _parse_retry_after(retry_after)
            if after is not None:
                return AttemptOutcome(
                    "retry", min(300.0, max(1.0, after)), "pagerduty rate limited"
                )
            backoff = 30.0 * 2 ** min(attempt, 8)
            return AttemptOutcome("retry", min(300.0, backoff), "pagerduty rate limited")
        if receiver == "slack" and status in (403, 404, 410):
            # Slack's answers for a revoked, deleted or archived webhook/channel: retrying can't
            # help, and everything sent there is lost until someone fixes the config.
            return AttemptOutcome(
                "give_up",
                reason=f"slack webhook misconfigured: HTTP {status} {body[:200]!r}",
                misconfigured=True,
            )
        if status < 500:
            return AttemptOutcome(
                "give_up", reason=f"{receiver} rejected the request: HTTP {status} {body[:200]!r}"
            )
    ceiling = min(60.0, 0.5 * 1.5 ** min(attempt, 32))  # 1.5**11 already passes the cap
    why = "no response" if status is None else f"HTTP {status}"
    return AttemptOutcome("retry", ceiling / 2 + jitter * ceiling / 2, f"{receiver}: {why}")


@dataclass(frozen=True)
class Delivery:
    """How a delivery ended: delivered or not, after how many attempts, and why not; with the
    last response and the first and last attempt times (unix s) for the dead-letter record."""

    delivered: bool
    attempts: int
    reason: str = ""
    status: int | None = None
    body: str = ""
    first_at: float = 0.0
    last_at: float = 0.0
    misconfigured: bool = False


async def deliver(
    session: aiohttp.ClientSession,
    receiver: Receiver,
    url: str,
    payload: dict[str, object],
    *,
    deadline_s: float = 300.0,
    timeout_s: float = 10.0,
    limiter: Limiter | None = None,
    priority: int = OTHER,
    on_retry: Callable[[AttemptOutcome], None] = lambda d: None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rng: random.Random | None = None,
) -> Delivery:
    """POST ``payload`` as JSON until a decision ends it or ``deadline_s`` is spent.

    The deadline counts the backoff waits, the rate limiter's waits and the attempts' own time.
    """
    rng = rng or random.Random()
    waited = 0.0
    attempt = 0
    first_at = time.time()
    while True:
        started = time.monotonic()
        if limiter is not None:
            await limiter.acquire(priority)
        attempt_at = time.time()
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
        d = judge_attempt(receiver, status, body, retry_after, attempt, rng.random())
        waited += time.monotonic() - started
        attempt += 1

        reason = "" if d.kind == "ok" else d.reason
        if d.kind == "retry" and waited + d.delay_s > deadline_s:
            reason = f"deadline passed after {attempt} attempts: {d.reason}"
        if d.kind != "retry" or reason != d.reason:
            return Delivery(
                d.kind == "ok",
                attempt,
                reason,
                status=status,
                body=body[:2000],
                first_at=first_at,
                last_at=attempt_at,
                misconfigured=d.misconfigured,
            )
        on_retry(d)
        if limiter is not None and status == 429:
            limiter.hold(d.delay_s)  # every message to this endpoint waits, not only this one
        waited += d.delay_s
        await sleep(d.delay_s)
