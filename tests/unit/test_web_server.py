"""The HTTP server's deadline on request heads (slowloris), on a real aiohttp server."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from streams.local.embedded_broker import free_port
from streams.runtime import web_server


async def serve(runner_cls: type[web.AppRunner]) -> tuple[web.AppRunner, int]:
    app = web.Application()

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app.router.add_get("/ok", ok)
    runner = runner_cls(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, port


async def dripped_head_closed_after(port: int, drips: int) -> int | None:
    """Send a request head one byte a second; the drip at which the server closed, or None."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /ok HTTP/1.1\r\n")
        for i in range(drips):  # bounded
            writer.write(b"X")
            await writer.drain()
            try:
                if await asyncio.wait_for(reader.read(1), 1.0) == b"":
                    return i
            except TimeoutError:
                continue
        return None
    except ConnectionError:
        return i
    finally:
        writer.close()


async def test_a_request_head_that_drips_in_is_cut_after_the_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(web_server, "HEAD_TIMEOUT_S", 2.0)
    runner, port = await serve(web_server._Runner)
    try:
        closed_at = await dripped_head_closed_after(port, drips=10)
        assert closed_at is not None and closed_at <= 5
    finally:
        await runner.cleanup()


async def test_requests_on_a_kept_alive_connection_are_served(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(web_server, "HEAD_TIMEOUT_S", 2.0)
    runner, port = await serve(web_server._Runner)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(3):
            writer.write(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert head.startswith(b"HTTP/1.1 200")
            assert await asyncio.wait_for(reader.readexactly(2), 5) == b"ok"
            await asyncio.sleep(1.0)  # idle, but less than the deadline
        writer.close()
    finally:
        await runner.cleanup()
