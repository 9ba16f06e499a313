"""Faust's buffer of table changelog writes, with a flush that waits for every write.

A table assignment cannot await, so Faust queues its changelog record in a ProducerBuffer and a
background task hands it to the Kafka producer. Before committing source offsets Faust flushes
that buffer and then the producer, but Faust's flush (faust-streaming 0.15) returns

* as soon as the queue is empty, while the task may still hold the last record, waiting for
  metadata or room in the producer's batch: it is in neither the queue nor the producer;
* after 0.1 s in which no record was handed over, with records still queued.

The offsets are then committed while those changelog records exist only in memory; a kill -9
loses them, and the restarted worker neither has their counts in its recovered tables nor
re-reads the SLI records that made them (measured: 5 services one 20-outcome message short after
three kills). This flush returns once every queued record was delivered, and raises if one was
not, so that the offsets stay uncommitted and are processed again.
"""

from __future__ import annotations

import asyncio
from typing import Any

from faust.transport.producer import ProducerBuffer

from streams.runtime.log_format import ENGINE_LOGGER

CHECK_EVERY_S = 1.0


class DrainingProducerBuffer(ProducerBuffer):
    """A ProducerBuffer whose flush returns when everything put in it was delivered."""

    logger = ENGINE_LOGGER

    def __post_init__(self) -> None:
        super().__post_init__()
        self.undelivered: set[asyncio.Future[Any]] = set()
        self.failures: list[BaseException] = []

    def put(self, fut: Any) -> None:
        self.undelivered.add(fut)
        fut.add_done_callback(self._delivered)
        super().put(fut)

    def _delivered(self, fut: asyncio.Future[Any]) -> None:
        self.undelivered.discard(fut)
        if not fut.cancelled() and fut.exception() is not None:
            self.failures.append(fut.exception())  # type: ignore[arg-type]

    async def flush(self) -> None:
        """Wait until every record put in was delivered; raise if one failed since the last
        flush, or if the buffer stopped with records left (they can no longer be delivered)."""
        while self.undelivered:
            if self.state != "running":
                raise RuntimeError(f"producer buffer {self.state} with undelivered records")
            await asyncio.wait(set(self.undelivered), timeout=CHECK_EVERY_S)
        if self.failures:
            first, self.failures = self.failures[0], []
            raise RuntimeError(f"a table changelog write failed: {first!r}") from first

    async def on_stop(self) -> None:
        # Stopping: Faust's best effort (the producer delivers what it was handed).
        await ProducerBuffer.flush(self)
