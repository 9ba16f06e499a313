"""Faust's flow control, emptying the stream queues only when flow resumes after a suspension.

faust-streaming 0.15 empties every stream's queue whenever flow control is resumed, to drop
what was fetched for partitions a rebalance took away. But at the end of table recovery it
resumes the stream partitions, seeks them to their committed offsets (an await on the broker,
while its fetcher already runs) and only then resumes flow control, which was active already.
Messages fetched and queued in between were dropped, and the consumer, having read them,
never fetched them again: the next offset looked like a gap and Faust committed past them.
Measured on Apache Kafka: a worker restarted under load dropped 1 to 5 consecutive messages
per partition right after "Worker ready" in 2 of 3 runs (the OTLP kill -9 test counted 7
spans short in CI).

Resuming flow that is not suspended has nothing stale to drop, so it leaves the queues alone.
A rebalance still suspends flow first, and its resume still empties them.
"""

from __future__ import annotations

from mode.utils.queues import FlowControlEvent


class FlowControl(FlowControlEvent):
    """A FlowControlEvent whose resume empties the queues only after a suspension."""

    def resume(self) -> None:
        was_suspended = not self.is_active()
        self._suspend.clear()
        self._resume.set()
        if was_suspended:
            self.clear()
