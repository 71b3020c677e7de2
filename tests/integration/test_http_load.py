"""The benches' lean HTTP client against a real aiohttp server on loopback: every POST
arrives whole, with its headers, and gets its own status back, more POSTs at once than it
keeps connections, and after the server drops a connection."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from simulators.http_load import HttpError, LeanClient


async def test_concurrent_posts_over_few_connections_each_get_their_own_answer() -> None:
    received: list[tuple[str, bytes]] = []
    peers: set[object] = set()

    async def handler(request: web.Request) -> web.Response:
        body = await request.read()
        received.append((request.headers["Authorization"], body))
        peers.add(request.transport.get_extra_info("peername") if request.transport else None)
        await asyncio.sleep(0.001 * (int(body) % 3))  # answers out of order
        status = 202 if int(body) % 5 else 400
        return web.json_response({"n": int(body), "pad": "x" * int(body)}, status=status)

    async def drop(request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.close()
        return web.Response()

    app = web.Application()
    app.router.add_post("/events", handler)
    app.router.add_post("/drop", drop)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    client = LeanClient(f"http://127.0.0.1:{port}", {"Authorization": "Bearer t"}, limit=4)
    try:
        statuses = await asyncio.gather(
            *(client.post("/events", str(k).encode()) for k in range(1, 41))
        )
        assert statuses == [202 if k % 5 else 400 for k in range(1, 41)]
        assert sorted(int(body) for _, body in received) == list(range(1, 41))
        assert {auth for auth, _ in received} == {"Bearer t"}
        assert len(peers) <= 4

        # A connection the server closes is given up; the next POSTs still go through.
        with pytest.raises(HttpError):
            await client.post("/drop", b"")
        assert await asyncio.gather(*(client.post("/events", b"7") for _ in range(8))) == [202] * 8
    finally:
        client.close()
        await runner.cleanup()
