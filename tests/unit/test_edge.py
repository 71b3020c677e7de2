"""The one middleware in front of every request (dashboards/edge.py): what the five it
replaced did, each checked on a bare application with handlers that fail on purpose."""

from __future__ import annotations

import re

import redis.exceptions
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer

from dashboards.edge import edge
from dashboards.headers import CONTENT_SECURITY_POLICY
from dashboards.metrics import METRICS, WebMetrics


async def _ok(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def _crash(request: web.Request) -> web.Response:
    raise RuntimeError("a bug, with detail the caller must not see")


async def _redis_down(request: web.Request) -> web.Response:
    raise redis.exceptions.ConnectionError("connection refused")


async def _teapot(request: web.Request) -> web.Response:
    raise web.HTTPConflict(text="plain text conflict")


def _app() -> web.Application:
    app = web.Application(middlewares=[edge])
    app[METRICS] = WebMetrics()
    app.router.add_get("/api/things/{name}", _ok)
    app.router.add_get("/api/crash", _crash)
    app.router.add_get("/api/redis", _redis_down)
    app.router.add_get("/api/conflict", _teapot)
    app.router.add_get("/page/redis", _redis_down)
    app.router.add_get("/page/conflict", _teapot)
    return app


def _secured(response: ClientResponse) -> bool:
    headers = response.headers
    return bool(
        headers.get("Content-Security-Policy") == CONTENT_SECURITY_POLICY
        and headers.get("X-Frame-Options") == "DENY"
    )


async def test_api_errors_are_json_with_the_security_headers() -> None:
    async with TestClient(TestServer(_app())) as client:
        missing = await client.get("/api/nothing-here")
        assert missing.status == 404 and await missing.json() == {"error": "not found"}
        wrong = await client.post("/api/things/x")
        assert wrong.status == 405 and "error" in await wrong.json()
        assert wrong.headers["Allow"] == "GET,HEAD"
        conflict = await client.get("/api/conflict")
        assert conflict.status == 409 and await conflict.json() == {"error": "conflict"}
        crash = await client.get("/api/crash")
        assert crash.status == 500 and await crash.json() == {"error": "internal error"}
        for response in (missing, wrong, conflict, crash):
            assert _secured(response)


async def test_outside_the_api_errors_stay_as_raised() -> None:
    async with TestClient(TestServer(_app())) as client:
        conflict = await client.get("/page/conflict")
        assert conflict.status == 409 and await conflict.text() == "plain text conflict"
        assert _secured(conflict)
        missing = await client.get("/page/nothing")
        assert missing.status == 404 and _secured(missing)


async def test_a_dependency_that_is_down_is_a_503_naming_it() -> None:
    async with TestClient(TestServer(_app())) as client:
        for path in ("/api/redis", "/page/redis"):
            response = await client.get(path)
            assert response.status == 503
            assert response.headers["Retry-After"] == "1"
            assert "redis unavailable" in (await response.json())["error"]
            assert _secured(response)


async def test_a_sane_request_id_is_echoed_and_others_replaced() -> None:
    async with TestClient(TestServer(_app())) as client:
        given = await client.get("/api/things/a", headers={"X-Request-Id": "abc-123.x_Y"})
        assert given.headers["X-Request-Id"] == "abc-123.x_Y"
        made = []
        for bad in ("has space", "x" * 65, "<script>", ""):
            response = await client.get("/api/things/a", headers={"X-Request-Id": bad})
            made.append(response.headers["X-Request-Id"])
        assert all(re.fullmatch(r"[0-9a-f]{16}", rid) for rid in made), made
        assert len(set(made)) == len(made)


async def test_requests_are_counted_by_template_with_bounded_labels() -> None:
    app = _app()
    async with TestClient(TestServer(app)) as client:
        for name in ("a", "b", "c"):
            assert (await client.get(f"/api/things/{name}")).status == 200
        assert (await client.request("PROPFIND", "/api/things/a")).status == 405
        assert (await client.get("/api/crash")).status == 500
    counts = {
        (s.labels["method"], s.labels["route"], s.labels["status"]): s.value
        for family in app[METRICS].registry.collect()
        if family.name == "tariq_http_requests"
        for s in family.samples
        if s.name.endswith("_total")
    }
    assert counts[("GET", "/api/things/{name}", "200")] == 3
    assert counts[("other", "unmatched", "405")] == 1
    assert counts[("GET", "/api/crash", "500")] == 1
    assert not any(method == "PROPFIND" for method, _, _ in counts)
