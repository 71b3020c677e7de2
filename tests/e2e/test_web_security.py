"""The web's security rules against the service run as processes (contract v1.1 sections 3,
4, 6): token expiry, listing and revocation from the command line, device tokens bound to a
vehicle, the websockets' `Origin` check and per-token cap, control characters in a request
target, and no token in any log line."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from dashboards.headers import CONTENT_SECURITY_POLICY
from tariq.domain.tokens import hash_token, token_id_of
from tests.support.service import Api, RunningService, free_port, wait_until

pytestmark = pytest.mark.e2e

WS_PER_TOKEN = 3


@pytest.fixture(autouse=True)
def small_websocket_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    """The services of this module allow 3 websockets per token (default 20)."""
    monkeypatch.setenv("TARIQ_WS_PER_TOKEN", str(WS_PER_TOKEN))


def position(event_id: str, vehicle_id: str) -> dict[str, Any]:
    return {"event_id": event_id, "type": "vehicle.position",
            "occurred_at": "2026-05-18T04:00:00Z", "vehicle_id": vehicle_id, "kind": "bus",
            "lat": 21.42, "lon": 39.82}  # fmt: skip


async def status_of(api: Api, token: str) -> int:
    status, _ = await api.get("/api/summary", token=token)
    return status


async def test_tokens_expire_are_listed_and_revoked(api: Api, service: RunningService) -> None:
    lasting = service.token("operator", expires="30d")
    short = service.token("operator", expires="2s")
    listing = service.tariq("token", "list")
    header, *rows = listing.splitlines()
    assert header.split() == ["id", "role", "hotel", "vehicle", "created", "expires", "revoked"]
    by_id = {row.split()[0]: row.split() for row in rows}
    lasting_id = token_id_of(hash_token(lasting))
    assert by_id[lasting_id][1] == "operator" and by_id[lasting_id][5] != "-"
    assert by_id[lasting_id][6] == "-"
    assert lasting not in listing and short not in listing and api.token not in listing
    assert hash_token(lasting) not in listing

    assert await status_of(api, lasting) == 200
    # Expiry is enforced by the service: the two-second token stops working by itself.
    await wait_until(
        lambda: _is(status_of(api, short), 401), timeout=30, what="the short token to expire"
    )

    assert service.tariq("token", "revoke", lasting_id).strip() == f"token {lasting_id} revoked"
    # Refused at once (the revocation notice empties the web's token cache; at worst its
    # 1 s bound): poll with a generous bound rather than race the notice, then it stays so.
    await wait_until(lambda: _is(status_of(api, lasting), 401), timeout=10, what="revocation")
    assert await status_of(api, lasting) == 401
    assert await status_of(api, api.token) == 200
    rows = service.tariq("token", "list").splitlines()
    assert next(r for r in rows if r.startswith(lasting_id)).split()[6] != "-"

    bad = subprocess.run(
        [sys.executable, "-m", "tariq.cli", "token", "create", "--role", "operator",
         "--expires", "soon"], env=service.env, capture_output=True, text=True,
    )  # fmt: skip
    assert bad.returncode == 2 and "expiry" in bad.stderr
    unknown = subprocess.run(
        [sys.executable, "-m", "tariq.cli", "token", "revoke", "ffffffffffff"],
        env=service.env, capture_output=True, text=True,
    )  # fmt: skip
    assert unknown.returncode == 2


async def _has_fixes(api: Api, vehicle_id: str) -> bool:
    status, body = await api.get(f"/api/vehicles/{vehicle_id}/track")
    return status == 200 and bool(body["fixes"])


async def _is(status: Any, wanted: int) -> bool:
    return bool(await status == wanted)


async def test_a_bound_device_posts_and_reads_only_its_vehicle(
    api: Api, service: RunningService
) -> None:
    bound = service.token("device", vehicle="BUS-1")
    unbound = service.token("device")
    scan = {"event_id": "bd-scan", "type": "bag.scanned", "occurred_at": "2026-05-18T04:00:00Z",
            "tag": "0065500000", "checkpoint": "accepted", "location": "JED"}  # fmt: skip
    body = [position("bd-1", "BUS-1"), position("bd-2", "BUS-2"), scan]
    status, outcome = await api.post("/api/events", orjson.dumps(body), token=bound)
    assert status == 202 and outcome["accepted"] == 1
    assert [r["index"] for r in outcome["rejected"]] == [1, 2]
    assert "another vehicle" in outcome["rejected"][0]["error"]
    assert "only vehicle.position" in outcome["rejected"][1]["error"]
    # An unbound device token posts as before.
    status, outcome = await api.post(
        "/api/events", orjson.dumps([position("bd-3", "BUS-2")]), token=unbound
    )
    assert (status, outcome["accepted"]) == (202, 1)

    # Both buses are known once the worker has processed their positions.
    for vehicle in ("BUS-1", "BUS-2"):
        await wait_until(
            lambda v=vehicle: _has_fixes(api, v), timeout=60, what=f"{vehicle}'s position"
        )
    base = service.base_url.replace("http", "ws")
    async with aiohttp.ClientSession() as session:
        for token, vehicle in ((bound, "BUS-2"), (unbound, "BUS-1")):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(f"{base}/ws/bus/{vehicle}?token={token}")
            assert refused.value.status == 403
        async with session.ws_connect(f"{base}/ws/bus/BUS-1?token={bound}") as ws:
            snapshot = await ws.receive_json(timeout=15)
            assert snapshot["kind"] == "snapshot"
            assert snapshot["vehicle"]["vehicle_id"] == "BUS-1"
        async with session.ws_connect(f"{base}/ws/bus/BUS-2?token={api.token}") as ws:
            assert (await ws.receive_json(timeout=15))["kind"] == "snapshot"


async def test_websockets_check_origin_and_cap_connections_per_token(
    api: Api, service: RunningService
) -> None:
    base = service.base_url.replace("http", "ws")
    url = f"{base}/ws/live?token={api.token}"
    async with aiohttp.ClientSession() as session:
        for origin in ("http://evil.example", "null", f"http://127.0.0.1:{service.port + 1}"):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(url, origin=origin)
            assert refused.value.status == 403, origin

        opened = [await session.ws_connect(url, origin=service.base_url)]
        opened += [await session.ws_connect(url) for _ in range(WS_PER_TOKEN - 1)]
        for ws in opened:
            assert (await ws.receive_json(timeout=15))["kind"] == "snapshot"
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(url)
        assert refused.value.status == 429
        upgrade = {
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        }
        async with session.get(url.replace("ws://", "http://"), headers=upgrade) as answer:
            assert answer.status == 429
            assert "TARIQ_WS_PER_TOKEN" in (await answer.json())["error"]
        # Another token has its own connections.
        other = service.token("operator")
        async with session.ws_connect(f"{base}/ws/live?token={other}") as ws:
            assert (await ws.receive_json(timeout=15))["kind"] == "snapshot"
        # Closing one frees its place.
        await opened.pop().close()

        async def reconnects() -> bool:
            try:
                opened.append(await session.ws_connect(url))
            except aiohttp.WSServerHandshakeError as exc:
                assert exc.status == 429
                return False
            return True

        await wait_until(reconnects, timeout=15, what="a freed websocket place")
        for ws in opened:
            await ws.close()


async def test_control_characters_in_paths_and_queries_answer_400(
    api: Api, service: RunningService
) -> None:
    targets = [
        "/api/bags/00655%0000001",
        "/api/alerts?type=%00",
        "/api/dead-letters?offset=1%00",
        "/api/hotels/MAK%00/bags",
        "/%00",
        "/hotel?lang=%1B",
        "/ws/live?token=%00",
    ]
    async with aiohttp.ClientSession() as session:
        for target in targets:
            async with session.get(
                service.base_url + target, headers={"Authorization": f"Bearer {api.token}"}
            ) as response:
                assert response.status == 400, target
                assert "control characters" in (await response.json())["error"]
                assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


async def _raw(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    answer = await reader.read(200)
    writer.close()
    return answer


async def test_no_token_in_any_log_line(api: Api, service: RunningService, tmp_path: Path) -> None:
    """A second web process (its access log is always on): websocket URLs and malformed request
    lines carrying `?token=` are logged with the token redacted."""
    port = free_port()
    log_path = tmp_path / "web.log"
    env = {**service.env, "TARIQ_HTTP_PORT": str(port)}
    with log_path.open("wb") as log:
        web = subprocess.Popen(
            [sys.executable, "-m", "tariq.cli", "web"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not _listening(port):
            assert web.poll() is None and time.monotonic() < deadline, log_path.read_text()
            await asyncio.sleep(0.2)
        token = api.token
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"ws://127.0.0.1:{port}/ws/live?token={token}") as ws:
                assert (await ws.receive_json(timeout=15))["kind"] == "snapshot"
            async with session.get(f"http://127.0.0.1:{port}/hotel?token={token}") as page:
                assert page.status == 200
        for line in (
            b"GET /ws/live?token=" + token.encode() + b"\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /ws/hotel?token=" + token.encode() + b" HTTP/9.9 junk\r\n\r\n",
        ):
            assert (await _raw(port, line)).startswith(b"HTTP/1.0 400")
    finally:
        web.send_signal(signal.SIGTERM)
        web.wait(20)
    text = log_path.read_text(errors="replace")
    # The lines were logged (so the check below means something) ...
    assert "GET /ws/live " in text
    assert "Error handling request" in text and "token=***" in text
    # ... and no token is in any of them.
    assert token not in text
    assert token[:20] not in text
