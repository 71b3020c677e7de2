"""The web's security rules that need no infrastructure: webhook address rules, who may post
and read what, token lifetimes, log redaction, the `Origin` check, the headers middleware,
control characters in a request target, and the per-token websocket cap."""

from __future__ import annotations

import ipaddress
import logging
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request
from hypothesis import given
from hypothesis import strategies as st

from dashboards.edge import edge
from dashboards.headers import (
    CONTENT_SECURITY_POLICY,
    decoded_has_control_character,
    has_control_character,
)
from dashboards.hub import FeedHub
from dashboards.notices_api import GENERIC_DELIVERY_ERROR, as_seen_by, for_hotel
from dashboards.security import same_origin
from tariq.domain.addresses import parse_allow, refusal
from tariq.domain.events import event_from_object
from tariq.domain.tokens import (
    Principal,
    check_role,
    may_post,
    may_read_bus,
    parse_lifetime,
)
from tariq.logs import RedactTokens, redact

TOKEN = "tq_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v"


# --------------------------------------------------------------------------- webhook addresses


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("169.254.169.254", "link-local"),
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "private"),
        ("fd00::1", "private"),
        ("fe80::1", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "link-local"),
    ],
)
def test_webhook_addresses_that_are_not_public_are_refused(address: str, kind: str) -> None:
    why = refusal(address)
    assert why is not None and kind in why and "TARIQ_WEBHOOK_ALLOW" in why


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert refusal(address) is None


def test_an_allowed_network_admits_its_addresses_only() -> None:
    allow = parse_allow(" 127.0.0.0/8, ::1/128 ,10.5.0.0/16")
    assert allow == (
        ipaddress.ip_network("127.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
        ipaddress.ip_network("10.5.0.0/16"),
    )
    assert refusal("127.0.0.1", allow) is None
    assert refusal("::ffff:127.0.0.1", allow) is None  # mapped: judged as 127.0.0.1
    assert refusal("::1", allow) is None
    assert refusal("10.5.3.4", allow) is None
    assert refusal("10.6.0.1", allow) is not None
    assert refusal("169.254.169.254", allow) is not None
    assert parse_allow("") == () and parse_allow(None) == ()
    with pytest.raises(ValueError, match="not a CIDR"):
        parse_allow("127.0.0.0/8,localhost")


# --------------------------------------------------------------------------- tokens


def _position(vehicle_id: str) -> object:
    return event_from_object(
        {"event_id": f"fix-{vehicle_id}", "type": "vehicle.position",
         "occurred_at": "2026-05-18T04:00:00Z", "vehicle_id": vehicle_id, "kind": "bus",
         "lat": 21.4, "lon": 39.8}
    )  # fmt: skip


def test_a_bound_device_posts_only_its_own_vehicles_positions() -> None:
    scan = event_from_object(
        {"event_id": "s1", "type": "bag.scanned", "occurred_at": "2026-05-18T04:00:00Z",
         "tag": "0065500000", "checkpoint": "accepted", "location": "JED"}
    )  # fmt: skip
    bound = Principal("device", vehicle_id="BUS-1")
    assert may_post(bound, _position("BUS-1")) is None  # type: ignore[arg-type]
    foreign = may_post(bound, _position("BUS-2"))  # type: ignore[arg-type]
    assert foreign is not None and "BUS-1" in foreign and "another vehicle" in foreign
    other_type = may_post(bound, scan)
    assert other_type is not None and "only vehicle.position" in other_type
    # Unbound devices and operators post anything (the role check is the handler's).
    assert may_post(Principal("device"), scan) is None
    assert may_post(Principal("operator"), _position("BUS-2")) is None  # type: ignore[arg-type]


def test_a_bus_feed_is_for_operators_and_the_device_bound_to_that_bus() -> None:
    assert may_read_bus(Principal("operator"), "BUS-1")
    assert may_read_bus(Principal("device", vehicle_id="BUS-1"), "BUS-1")
    assert not may_read_bus(Principal("device", vehicle_id="BUS-1"), "BUS-2")
    assert not may_read_bus(Principal("device"), "BUS-1")
    assert not may_read_bus(Principal("hotel", hotel_id="H"), "BUS-1")


def test_token_lifetimes_and_bindings() -> None:
    assert parse_lifetime("30d") == timedelta(days=30)
    assert parse_lifetime("12h") == timedelta(hours=12)
    assert parse_lifetime("90m") == timedelta(minutes=90)
    assert parse_lifetime("2w") == timedelta(weeks=2)
    assert parse_lifetime("45s") == timedelta(seconds=45)
    for bad in ("", "30", "d", "-1d", "0d", "1.5d", "30 days", "99999w"):
        with pytest.raises(ValueError):
            parse_lifetime(bad)
    check_role("device", None, "BUS-1")
    with pytest.raises(ValueError, match="only a device token"):
        check_role("operator", None, "BUS-1")
    with pytest.raises(ValueError, match="only a device token"):
        check_role("hotel", "H-1", "BUS-1")
    with pytest.raises(ValueError, match="1 to 64"):
        check_role("device", None, "B" * 65)


# --------------------------------------------------------------------------- logs


def test_tokens_are_redacted_from_text() -> None:
    line = f"GET /ws/live?lang=ar&token={TOKEN}&x=1 HTTP/1.1"
    assert TOKEN not in redact(line)
    assert "lang=ar" in redact(line) and "&x=1" in redact(line)
    assert TOKEN not in redact(f"b'GET /ws/hotel?token={TOKEN}\\x00 HTTP/1.1'")
    assert TOKEN not in redact(f"Authorization: Bearer {TOKEN}")


def test_the_log_filter_redacts_messages_arguments_and_tracebacks() -> None:
    try:
        raise ValueError(f"Invalid method encountered: b'GET /ws/live?token={TOKEN}'")
    except ValueError:
        exc_info = sys.exc_info()
    record = logging.LogRecord(
        "aiohttp.server", logging.ERROR, __file__, 1, "Error handling request %s", (
            f"/ws/live?token={TOKEN}",), exc_info,
    )  # fmt: skip
    assert RedactTokens().filter(record)
    text = logging.Formatter().format(record)
    assert "Error handling request /ws/live?token=***" in text
    assert "Invalid method encountered" in text  # the traceback is kept, redacted
    assert TOKEN not in text


# --------------------------------------------------------------------------- origin, headers


@pytest.mark.parametrize(
    ("host", "origin", "ok"),
    [
        ("127.0.0.1:8080", None, True),
        ("127.0.0.1:8080", "http://127.0.0.1:8080", True),
        ("localhost:8080", "http://LOCALHOST:8080", True),
        ("127.0.0.1:8080", "http://127.0.0.1:8081", False),
        ("127.0.0.1:8080", "http://localhost:8080", False),
        ("127.0.0.1:8080", "http://evil.example", False),
        ("127.0.0.1:8080", "null", False),
        ("127.0.0.1:8080", "http://127.0.0.1:8080.evil.example", False),
        # Behind a TLS-terminating proxy that keeps the Host header: the page is https.
        ("tariq.example", "https://tariq.example", True),
        ("tariq.example", "https://tariq.example.evil.example", False),
        ("tariq.example", "https://evil.example", False),
    ],
)
def test_websocket_origin_must_be_this_server(host: str, origin: str | None, ok: bool) -> None:
    headers = {"Host": host}
    if origin is not None:
        headers["Origin"] = origin
    request = make_mocked_request("GET", "/ws/live", headers=headers)
    assert same_origin(request) is ok


async def _file(request: web.Request) -> web.FileResponse:
    return web.FileResponse(Path(__file__))


async def _json(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, "q": dict(request.query)})


async def _missing(request: web.Request) -> web.Response:
    raise web.HTTPNotFound(text="nothing here")


def _app() -> web.Application:
    app = web.Application(middlewares=[edge])
    app.router.add_get("/page", _file)
    app.router.add_get("/json/{name}", _json)
    app.router.add_get("/gone", _missing)
    return app


async def test_every_response_carries_the_security_headers() -> None:
    async with TestClient(TestServer(_app())) as client:
        for path, status in (("/page", 200), ("/json/x", 200), ("/gone", 404), ("/nope", 404)):
            response = await client.get(path)
            assert response.status == status, path
            assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert response.headers["Referrer-Policy"] == "no-referrer"
    csp = dict(part.strip().split(" ", 1) for part in CONTENT_SECURITY_POLICY.split(";"))
    assert csp["script-src"] == "'self'" and csp["connect-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'" and "unsafe-inline" not in CONTENT_SECURITY_POLICY


@pytest.mark.parametrize(
    "target",
    ["/json/a%00b", "/json/x?q=a%00b", "/json/x?a%00=1", "/json/x?q=%1F", "/json/x?q=%7F",
     "/json/%0A", "/page?token=%00"],
)  # fmt: skip
async def test_control_characters_in_a_path_or_query_are_a_json_400(target: str) -> None:
    async with TestClient(TestServer(_app())) as client:
        response = await client.get(target)
        assert response.status == 400
        assert "control characters" in (await response.json())["error"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        fine = await client.get("/json/x?q=caf%C3%A9%20ok")
        assert fine.status == 200 and (await fine.json())["q"] == {"q": "café ok"}


def _verdict(check: Any, request: web.Request) -> bool | str:
    try:
        return bool(check(request))
    except (UnicodeDecodeError, ValueError):
        return "refused"


_TARGET_PIECES = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FF), max_size=4),
    st.sampled_from(
        ["/", "?", "&", "=", "+", "%", "%00", "%1f", "%7F", "%20", "%C3%A9", "%FF", "\x7f"]
    ),
    st.integers(0, 255).map(lambda n: f"%{n:02X}"),
)


@given(st.lists(_TARGET_PIECES, max_size=12).map(lambda pieces: "/x" + "".join(pieces)))
def test_the_quick_control_character_check_agrees_with_the_decoded_one(target: str) -> None:
    # Without a percent escape only the raw target is searched: same verdict as searching
    # every decoded form.
    try:
        request = make_mocked_request("GET", target)
    except ValueError:
        return  # not a request target aiohttp would build
    assert _verdict(has_control_character, request) == _verdict(
        decoded_has_control_character, request
    )


# --------------------------------------------------------------------------- websocket cap


def test_the_hub_caps_connections_per_token() -> None:
    hub = FeedHub(live=None, per_token=2)  # type: ignore[arg-type]
    with hub.slot("a") as first, hub.slot("a") as second:
        assert first and second
        with hub.slot("a") as third:
            assert not third
        with hub.slot("b") as other:
            assert other  # another token has its own connections
        assert hub.open_by_token == {"a": 2}
    assert hub.open_by_token == {}
    with hub.slot("a") as again:
        assert again


def test_a_hotel_sees_only_a_generic_delivery_error() -> None:
    notices = [
        {"notice_id": "n1", "last_error": "ClientConnectorError: 10.0.0.5:6379 refused"},
        {"notice_id": "n2", "last_error": None},
    ]
    shown = for_hotel(notices)
    assert [n["last_error"] for n in shown] == [GENERIC_DELIVERY_ERROR, None]
    assert as_seen_by(Principal("hotel", hotel_id="H"), notices) == shown
    assert as_seen_by(Principal("operator"), notices) == notices
