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
        self.waiting: list[tuple[int, int]] = []
        self._seq = itertools.count()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    async def acquire(self, priority: int = OTHER) -> None:
        """Wait for a token; the best-placed waiter takes each one as it comes."""
        ticket = (priority, next(self._seq))
        heapq.heappush(self.waiting, ticket)
        try:
            while True:
                self._refill()
                first = self.waiting[0] == ticket
                if first and self.tokens >= 1:
                    heapq.heappop(self.waiting)
                    self.tokens -= 1
                    return
                await self.sleep(max(0.005, (1 - self.tokens) / self.rate) if first else 0.02)
        except BaseException:
            if ticket in self.waiting:
                self.waiting.remove(ticket)
                heapq.heapify(self.waiting)
            raise
