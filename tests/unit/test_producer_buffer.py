"""The changelog buffer's flush, which Faust awaits before committing source offsets, returns
only once every table write put in it was delivered (the kill -9 exactness tests depend on it)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from streams.runtime.producer_buffer import DrainingProducerBuffer


class Handover(DrainingProducerBuffer):
    """The buffer with the producer replaced by a hand the test opens: a record taken from the
    queue is held until ``release`` is set, then delivered (or failed with ``error``)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.release = asyncio.Event()
        self.error: Exception | None = None

    async def _send_pending(self, fut: Any) -> None:
        await self.release.wait()  # waiting for metadata or room in a producer batch
        if self.error is None:
            fut.set_result("delivered")
        else:
            fut.set_exception(self.error)


async def started() -> Handover:
    buf = Handover()
    buf.app = SimpleNamespace(conf=SimpleNamespace(producer_threaded=False))  # type: ignore[assignment]
    await buf.start()
    return buf


async def test_flush_waits_for_a_record_the_sending_task_holds() -> None:
    buf = await started()
    try:
        record: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        buf.put(record)
        await asyncio.sleep(0.01)  # the task takes it: the queue is empty, nothing delivered
        assert buf.size == 0
        flushing = asyncio.ensure_future(buf.flush())
        await asyncio.sleep(0.3)  # Faust's own flush returned after 0.1 s at the latest
        assert not flushing.done()
        buf.release.set()
        await asyncio.wait_for(flushing, 5)
        assert record.result() == "delivered"
    finally:
        buf.release.set()
        await buf.stop()


async def test_flush_waits_past_a_silence_with_records_queued() -> None:
    buf = await started()
    try:
        loop = asyncio.get_running_loop()
        records = [loop.create_future() for _ in range(3)]
        for r in records:
            buf.put(r)
        flushing = asyncio.ensure_future(buf.flush())
        await asyncio.sleep(0.3)
        assert not flushing.done()
        buf.release.set()
        await asyncio.wait_for(flushing, 5)
        assert all(r.done() for r in records)
    finally:
        buf.release.set()
        await buf.stop()


async def test_a_failed_write_fails_the_flush_so_nothing_is_committed() -> None:
    buf = await started()
    try:
        buf.error = ConnectionError("broker gone")
        buf.put(asyncio.get_running_loop().create_future())
        buf.release.set()
        with pytest.raises(RuntimeError, match="broker gone"):
            await asyncio.wait_for(buf.flush(), 5)
        await asyncio.wait_for(buf.flush(), 5)  # reported once: the next commit is not stopped
    finally:
        await buf.stop()
