"""Stored XSS, tried as issue 11 found it: a device posts script-bearing hotel names, ids and
group ids; the operator map (tooltips, search, details, recent scans) and the hotel page show
them as text and run nothing. Every HTML response carries the security headers, the pages
raise no Content-Security-Policy violation (no inline style or script needed; the live feed
connects under `connect-src 'self'`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import orjson
import pytest
from playwright.async_api import Page, Response

from dashboards.headers import CONTENT_SECURITY_POLICY
from tests.e2e.test_pages import (  # noqa: F401 (fixtures)
    Watched,
    browser,
    open_page,
    wait_for_js,
    wait_for_live,
)
from tests.support.service import Api, RunningService, wait_until

pytestmark = pytest.mark.e2e

# Each payload sets window.__pwned if the page ever treats it as HTML (and the CSP let it run),
# or makes an element (img, svg, script, b) that the checks below look for.
HOTEL = "<img src=x onerror=window.__pwned=1>"
NAME = '<img src="data:," onerror="window.__pwned=2">Evil Inn</b>'
PILGRIM = "<svg onload=window.__pwned=3>"
GROUP = "<script>window.__pwned=4</script>"
FLIGHT = "SV666-2026-05-18"
TAG, LATER_TAG = "0065700001", "0065700002"
PAYLOADS = (HOTEL, NAME, PILGRIM, GROUP)

WATCH_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sample}`));
"""
# Elements the payloads would make if interpreted as HTML.
INJECTED = (
    'document.querySelectorAll(\'img[src="x"], img[src="data:,"], svg[onload],'
    " script:not([src]), [onerror], [onload]').length"
)


def _at(minute: int) -> str:
    return f"2026-05-18T04:{minute:02d}:00Z"


def hostile_events() -> list[dict[str, Any]]:
    return [
        {"event_id": "x-h", "type": "hotel.registered", "occurred_at": _at(0),
         "hotel_id": HOTEL, "name": NAME, "city": "makkah", "lat": 21.4155, "lon": 39.8275},
        {"event_id": "x-f", "type": "flight.scheduled", "occurred_at": _at(0),
         "flight_id": FLIGHT, "origin": "CGK", "destination": "JED",
         "scheduled_departure": "2026-05-18T01:00:00Z",
         "scheduled_arrival": "2026-05-18T10:00:00Z"},
        {"event_id": "x-p", "type": "pilgrim.registered", "occurred_at": _at(1),
         "pilgrim_id": PILGRIM, "group_id": GROUP, "flight_id": FLIGHT, "hotel_id": HOTEL,
         "nationality": "ID"},
        {"event_id": "x-c", "type": "bag.coded", "occurred_at": _at(2), "tag": TAG,
         "pilgrim_id": PILGRIM, "flight_id": FLIGHT, "hotel_id": HOTEL},
    ]  # fmt: skip


async def _bag_known(api: Api, tag: str) -> bool:
    status, _ = await api.get(f"/api/bags/{tag}")
    return status == 200


async def _watch(page: Page) -> None:
    await page.add_init_script(WATCH_CSP)


async def _nothing_ran(page: Page) -> None:
    assert await page.evaluate("typeof window.__pwned") == "undefined"
    assert await page.evaluate(INJECTED) == 0
    assert await page.evaluate("window.__csp") == []


def _check_headers(response: Response | None, what: str) -> None:
    assert response is not None, what
    headers = response.headers
    assert headers.get("content-security-policy") == CONTENT_SECURITY_POLICY, what
    assert headers.get("x-content-type-options") == "nosniff", what
    assert headers.get("referrer-policy") == "no-referrer", what


async def test_script_bearing_text_from_a_device_is_shown_as_text(
    api: Api,
    service: RunningService,
    open_page: Callable[..., Awaitable[Watched]],  # noqa: F811
) -> None:
    device = service.token("device")
    status, outcome = await api.post("/api/events", orjson.dumps(hostile_events()), token=device)
    assert status == 202 and outcome["rejected"] == [], outcome
    await wait_until(lambda: _bag_known(api, TAG), timeout=30, what="the hostile bag")

    # ------------------------------------------------------------------ the operator map
    watched = await open_page(f"{service.base_url}/#token={api.token}", before=_watch)
    page = watched.page
    await wait_for_live(page)
    await wait_for_js(page, "window.tariq.geography !== undefined", timeout=15_000)
    assert HOTEL in await page.evaluate("window.tariq.geography.hotels")
    # Hovering any marker shows its tooltip: open them all, as a user hovering would.
    await page.evaluate(
        "void window.tariq.map.eachLayer((l) => { if (l.getTooltip && l.getTooltip()) "
        "l.openTooltip(); })"
    )
    tooltip = page.locator(".leaflet-tooltip", has_text="Evil Inn")
    await tooltip.first.wait_for(timeout=5_000)
    assert await tooltip.first.text_content() == f"{HOTEL} · {NAME}"

    # Search the pilgrim, then the bag: the details show the ids as text.
    await page.fill("#search-input", PILGRIM)
    await page.press("#search-input", "Enter")
    details = page.locator("#details section.pilgrim")
    await details.wait_for(timeout=10_000)
    text = await details.text_content() or ""
    assert PILGRIM in text and GROUP in text and HOTEL in text
    await page.fill("#search-input", TAG)
    await page.press("#search-input", "Enter")
    bag = page.locator(f'#details section.bag[data-tag="{TAG}"]')
    await bag.wait_for(timeout=10_000)
    assert HOTEL in (await bag.text_content() or "")

    # A bag coded live shows in the recent list with its ids as text.
    later = {**hostile_events()[3], "event_id": "x-c2", "tag": LATER_TAG, "occurred_at": _at(3)}
    status, outcome = await api.post("/api/events", orjson.dumps([later]), token=device)
    assert status == 202 and outcome["accepted"] == 1
    await page.locator(f'#recent [data-tag="{LATER_TAG}"]').wait_for(timeout=15_000)
    await _nothing_ran(page)
    # The search asks for a pilgrim and a flight of that id at once: one of them is a 404.
    assert [e for e in watched.errors if "status of 404" not in e] == []

    # ------------------------------------------------------------------ the hotel page
    hotel_token = service.token("hotel", hotel=HOTEL)
    watched = await open_page(f"{service.base_url}/hotel#token={hotel_token}", before=_watch)
    page = watched.page
    await wait_for_live(page)
    await page.locator(f'#bags tr.bag[data-tag="{TAG}"]').wait_for(timeout=15_000)
    assert await page.text_content("#hotel-id") == HOTEL
    assert GROUP in (await page.text_content("#groups") or "")
    await _nothing_ran(page)
    assert watched.errors == []


async def test_every_html_response_carries_the_security_headers(
    api: Api,
    service: RunningService,
    open_page: Callable[..., Awaitable[Watched]],  # noqa: F811
) -> None:
    pages = ["/", "/operator", "/hotel", "/static/index.html", "/static/hotel.html"]
    async with aiohttp.ClientSession() as session:
        for path in [*pages, "/static/build/operator.js", "/api/nowhere", "/no-such-page"]:
            async with session.get(service.base_url + path) as response:
                assert response.status in (200, 401, 404), path
                if path in pages:
                    assert response.content_type == "text/html", path
                assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
                assert response.headers["X-Content-Type-Options"] == "nosniff", path
                assert response.headers["Referrer-Policy"] == "no-referrer", path
    # In the browser: the documents as loaded, with no violation while the pages run (the
    # operator map connects its live feed through connect-src 'self').
    for path, token in (("/", api.token), ("/hotel", service.token("hotel", hotel="MAK-H"))):
        documents: list[Response] = []

        async def record(page: Page, into: list[Response] = documents) -> None:
            await _watch(page)
            page.on(
                "response",
                lambda r: into.append(r) if r.request.resource_type == "document" else None,
            )

        watched = await open_page(f"{service.base_url}{path}#token={token}", before=record)
        await wait_for_live(watched.page)
        assert documents, path
        for response in documents:
            _check_headers(response, response.url)
        assert await watched.page.evaluate("window.__csp") == []
        assert watched.errors == []
