"""Token buckets per receiver endpoint, with priorities: when sends queue up, resolves and
critical triggers go first (a resolve closes a page someone is looking at)."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Awaitable, Callable

RESOLVE, CRITICAL, OTHER = 0, 1, 2  # priorities, lower first


class Limiter:
    """``rate`` sends per second with bursts up to ``burst``; waiters served by priority, then
    in arrival order."""

    def __init__(
        self,
        rate: float,
        burst: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rate, self.burst = rate, burst
        self.clock, self.sleep = clock, sleep
        self.tokens = burst
        self.updated = clock()
        self.held_until = 0.0
        self.waiting: list[tuple[int, int]] = []
        self._seq = itertools.count()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def hold(self, seconds: float) -> None:
        """Give out nothing for ``seconds``: the endpoint said it is rate limited (429), and
        that holds for every message to it, not just the one that got the answer."""
        self.held_until = max(self.held_until, self.clock() + seconds)

    async def acquire(self, priority: int = OTHER) -> None:
        """Wait for a token; the best-placed waiter takes each one as it comes."""
        ticket = (priority, next(self._seq))
        heapq.heappush(self.waiting, ticket)
        try:
            while True:
                self._refill()
                first = self.waiting[0] == ticket
                held = self.held_until - self.clock()
                if first and self.tokens >= 1 and held <= 0:
                    heapq.heappop(self.waiting)
                    self.tokens -= 1
                    return
                wait = max(held, (1 - self.tokens) / self.rate)
                await self.sleep(max(0.005, wait) if first else 0.02)
        except BaseException:
            if ticket in self.waiting:
                self.waiting.remove(ticket)
                heapq.heapify(self.waiting)
            raise
