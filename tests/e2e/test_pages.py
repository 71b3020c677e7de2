"""The operator map and the hotel page in a real headless Chromium (Debian's), against the
service run as processes. Vehicle and alert feed messages that the stream does not publish yet
are played to the page through Playwright's websocket routing, in the contract's shapes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest
from playwright.async_api import (
    Browser,
    Error,
    Page,
    ViewportSize,
    WebSocketRoute,
    async_playwright,
)

from tests.support.service import Api, RunningService, wait_until

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
TABLET: ViewportSize = {"width": 1280, "height": 800}
WHOLE_FLEET: ViewportSize = {"width": 2400, "height": 2400}
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
HOTEL_A, HOTEL_B = "MAK-PGA1", "MAK-PGB1"
PASSPORTS = ("X1234567", "Y7654321")


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium); "
            "the browser tests never download a browser"
        )
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        await launched.close()


class Watched:
    """A page with its console errors, uncaught errors and requests recorded."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", lambda r: self.requests.append(r.url))

    def foreign_requests(self) -> list[str]:
        return [
            url
            for url in self.requests
            if urlsplit(url).scheme not in ("data", "blob")
            and urlsplit(url).hostname not in LOCAL_HOSTS
        ]


@pytest.fixture
async def open_page(browser: Browser) -> AsyncIterator[Callable[..., Awaitable[Watched]]]:
    contexts = []

    async def open_(
        url: str, *, before: Callable[[Page], Awaitable[None]] | None = None
    ) -> Watched:
        context = await browser.new_context(viewport=TABLET, service_workers="block")
        contexts.append(context)
        watched = Watched(await context.new_page())
        if before is not None:
            await before(watched.page)
        await watched.page.goto(url)
        return watched

    yield open_
    for context in contexts:
        await context.close()


def _at(minute: int) -> str:
    return f"2026-05-18T04:{minute:02d}:00Z"


def setup_events() -> list[dict[str, Any]]:
    """Two hotels, a flight, a pilgrim for each hotel (with passports), one bag each."""
    events: list[dict[str, Any]] = [
        {"event_id": "pg-hA", "type": "hotel.registered", "occurred_at": _at(0),
         "hotel_id": HOTEL_A, "name": "Ajyad Residence A", "city": "makkah",
         "lat": 21.4155, "lon": 39.8275},
        {"event_id": "pg-hB", "type": "hotel.registered", "occurred_at": _at(0),
         "hotel_id": HOTEL_B, "name": "Jarwal Residence B", "city": "makkah",
         "lat": 21.4290, "lon": 39.8120},
        {"event_id": "pg-f1", "type": "flight.scheduled", "occurred_at": _at(0),
         "flight_id": "SV5301", "origin": "CGK", "destination": "JED",
         "scheduled_departure": "2026-05-18T01:00:00Z",
         "scheduled_arrival": "2026-05-18T10:00:00Z"},
    ]  # fmt: skip
    for n, (hotel, passport) in enumerate(zip((HOTEL_A, HOTEL_B), PASSPORTS, strict=True)):
        pilgrim = f"P-PG{n}"
        events += [
            {"event_id": f"pg-p{n}", "type": "pilgrim.registered", "occurred_at": _at(1),
             "pilgrim_id": pilgrim, "group_id": f"G{n}", "flight_id": "SV5301",
             "hotel_id": hotel, "nationality": "ID", "name": f"Siti Pilgrim{n}",
             "passport_no": passport},
            {"event_id": f"pg-c{n}", "type": "bag.coded", "occurred_at": _at(2),
             "tag": f"006550000{n}", "pilgrim_id": pilgrim, "flight_id": "SV5301",
             "hotel_id": hotel},
        ]  # fmt: skip
    return events


async def post(api: Api, events: list[dict[str, Any]]) -> None:
    status, body = await api.post("/api/events", orjson.dumps(events))
    assert status == 202 and body["rejected"] == [], body


async def page_value(page: Page, script: str) -> Any:
    return await page.evaluate(script)


async def wait_for_js(
    page: Page, expression: str, *, arg: Any = None, timeout: float = 30_000
) -> None:
    """Poll a JavaScript expression (or function of `arg`) until it is truthy. Playwright's
    `wait_for_function` compiles it with `eval` inside the page, which the pages' CSP
    (`script-src 'self'`, no 'unsafe-eval') forbids; `evaluate` is not subject to it."""
    deadline = time.monotonic() + timeout / 1000
    while True:
        try:
            if await page.evaluate(expression, arg):
                return
        except Error:
            pass  # not there yet (e.g. window.tariq before the page's script ran)
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout / 1000:.0f} s waiting for {expression}")
        await asyncio.sleep(0.05)


async def wait_for_live(page: Page) -> None:
    await page.wait_for_selector('#feed[data-state="live"]', timeout=15_000)


async def shoot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


# --------------------------------------------------------------------------- operator


async def test_operator_page_shows_a_posted_bag_and_resyncs_after_a_drop(
    api: Api, service: RunningService, open_page: Callable[..., Awaitable[Watched]]
) -> None:
    await post(api, setup_events())
    await wait_until(lambda: _bag_known(api, "0065500001"), timeout=20, what="the setup")
    watched = await open_page(f"{service.base_url}/#token={api.token}")
    page = watched.page
    await wait_for_live(page)
    # The token left the URL (kept in localStorage), so it does not linger in history.
    assert "token=" not in page.url

    tag = "0065500010"
    scan = [
        {"event_id": "pg-c10", "type": "bag.coded", "occurred_at": _at(3), "tag": tag,
         "pilgrim_id": "P-PG0", "flight_id": "SV5301", "hotel_id": HOTEL_A},
        {"event_id": "pg-s10", "type": "bag.scanned", "occurred_at": _at(4), "tag": tag,
         "checkpoint": "accepted", "location": "JED"},
    ]  # fmt: skip
    posted = time.perf_counter()
    await post(api, scan)
    await page.wait_for_selector(f'#recent [data-tag="{tag}"]', timeout=15_000)
    shown_ms = (time.perf_counter() - posted) * 1000
    print(f"\nbag event posted → shown on the operator page: {shown_ms:.0f} ms")
    # The flow counters (the server's, by the flight's destination) count the accepted bag.
    await page.locator(
        '#flow tr[data-stage="accepted"] td[data-airport="JED"]:not(:text-is("0"))'
    ).wait_for(timeout=15_000)

    # Search by tag: the bag's timeline, with the pilgrim and flight one click away.
    await page.fill("#search-input", tag)
    await page.press("#search-input", "Enter")
    timeline = page.locator(f'#details section.bag[data-tag="{tag}"] .timeline li')
    await timeline.first.wait_for(timeout=5_000)
    assert await timeline.evaluate_all("els => els.map(e => e.dataset.checkpoint)") == ["accepted"]

    # Geography drawn from the project's own data: world outline, roads, places.
    await wait_for_js(page, "window.tariq.geography !== undefined", timeout=10_000)
    geography = await page_value(page, "window.tariq.geography")
    assert geography["land"] > 0 and geography["roadSegments"] > 1000
    assert {"jed_hajj_terminal", "jed_baggage_yard", "med_baggage_yard"} <= set(geography["places"])
    assert {HOTEL_A, HOTEL_B} <= set(geography["hotels"])

    await shoot(page, "operator-en")
    await page.click("[data-lang-toggle]")
    assert await page.get_attribute("html", "dir") == "rtl"
    assert await page.get_attribute("html", "lang") == "ar"
    await shoot(page, "operator-ar")
    await page.click("[data-lang-toggle]")

    # A network drop: the web process dies and comes back; the page reconnects and resyncs
    # from a fresh snapshot, then shows what happened since.
    assert watched.errors == []
    assert service.web is not None
    service.kill(service.web)
    await page.wait_for_selector('#feed[data-state="reconnecting"]', timeout=10_000)
    service.start_web()
    await wait_for_js(page, "window.tariq.stats.snapshots >= 2", timeout=20_000)
    await wait_for_live(page)
    later = "0065500011"
    await post(api, [{**scan[0], "event_id": "pg-c11", "tag": later}])
    await page.wait_for_selector(f'#recent [data-tag="{later}"]', timeout=15_000)

    content = await page.content()
    assert not any(passport in content for passport in PASSPORTS)
    # While the server was down, the browser logs the refused reconnections; nothing else.
    assert all("/ws/live" in e and "ERR_CONNECTION_REFUSED" in e for e in watched.errors)
    assert watched.foreign_requests() == []


def vehicle(vehicle_id: str, lat: float, lon: float, status: str = "on_trip") -> dict[str, Any]:
    return {
        "vehicle_id": vehicle_id, "kind": "truck" if vehicle_id.startswith("T") else "bus",
        "lat": lat, "lon": lon, "speed_kmh": 40.0, "heading": 90.0, "at": _at(10),
        "status": status, "next_stop": HOTEL_A, "eta": "2026-05-18T05:30:00Z",
    }  # fmt: skip


def alert(alert_id: str, kind: str, **ids: str) -> dict[str, Any]:
    return {"alert_id": alert_id, "type": kind, "status": "open", "raised_at": _at(20),
            "resolved_at": None, **ids}  # fmt: skip


class FeedPlayer:
    """Stands in for the server end of `/ws/live`, sending messages in the contract's shapes."""

    def __init__(self) -> None:
        self.route: WebSocketRoute | None = None
        self.snapshot: dict[str, Any] = {
            "kind": "snapshot",
            "summary": {"bags_by_stage": {}, "events": {"processed": 0, "duplicates": 0,
                        "rejected": 0}, "alerts_open_by_type": {}, "clock": _at(10)},
            "vehicles": [], "alerts": [],
        }  # fmt: skip

    async def install(self, page: Page) -> None:
        async def handler(route: WebSocketRoute) -> None:
            self.route = route
            route.send(orjson.dumps(self.snapshot).decode())

        await page.route_web_socket("**/ws/live*", handler)

    def send(self, message: dict[str, Any]) -> None:
        assert self.route is not None
        self.route.send(orjson.dumps(message).decode())


async def test_operator_page_moves_vehicles_and_lists_alerts(
    api: Api, service: RunningService, open_page: Callable[..., Awaitable[Watched]]
) -> None:
    await post(api, setup_events())
    player = FeedPlayer()
    player.snapshot["vehicles"] = [vehicle("T-0001", 21.50, 39.30), vehicle("B-0001", 21.42, 39.82)]
    watched = await open_page(f"{service.base_url}/#token={api.token}", before=player.install)
    page = watched.page
    await wait_for_js(page, "window.tariq && window.tariq.vehicles.size === 2")
    await page.evaluate("void window.tariq.map.setView([21.5, 39.3], 13, {animate: false})")
    before = await page.evaluate("window.tariq.layer.pointOf('T-0001')")

    player.send(
        {"kind": "vehicles", "vehicles": [{**vehicle("T-0001", 21.505, 39.31), "at": _at(11)}]}
    )
    await wait_for_js(page, "window.tariq.vehicles.get('T-0001').lat === 21.505", timeout=5_000)
    after = await page.evaluate("window.tariq.layer.pointOf('T-0001')")
    assert after["x"] > before["x"] and after["y"] < before["y"]  # east and north on screen
    # The canvas holds the truck's colour at its new place (on_trip is blue) once the layer
    # has painted: it draws on the next animation frame, so wait for it rather than race.
    pixel_at = """([x, y]) => { const c = document.querySelector('canvas.vehicle-canvas');
        const r = window.devicePixelRatio || 1;
        return Array.from(c.getContext('2d').getImageData(x * r, y * r, 1, 1).data); }"""
    await wait_for_js(
        page,
        f"(p) => {{ const d = ({pixel_at})(p); return d[0] === 0x1F && d[1] === 0x7A"
        " && d[2] === 0xE0 && d[3] > 0; }",
        arg=[after["x"], after["y"]],
        timeout=5_000,
    )

    # An alert raised appears in the list; the filter hides it; a click focuses it.
    player.send({"kind": "alerts", "alerts": [
        alert("al-1", "vehicle_stalled", vehicle_id="T-0001", hotel_id=HOTEL_A),
        alert("al-2", "left_behind", tag="0065500000", flight_id="SV5301", hotel_id=HOTEL_A),
    ]})  # fmt: skip
    row = page.locator('#alerts [data-alert-id="al-1"]')
    await row.wait_for(timeout=5_000)
    await page.select_option("#filter-type", "left_behind")
    await row.wait_for(state="detached", timeout=5_000)
    assert await page.locator('#alerts [data-alert-id="al-2"]').count() == 1
    await page.select_option("#filter-type", "")
    await page.click('#alerts [data-alert-id="al-1"]')
    await page.locator('#details section.vehicle[data-vehicle="T-0001"]').wait_for(timeout=5_000)
    # Resolved: gone from the open list.
    player.send(
        {"kind": "alerts", "alerts": [{**alert("al-1", "vehicle_stalled"), "status": "resolved"}]}
    )
    await row.wait_for(state="detached", timeout=5_000)

    assert watched.errors == []
    assert watched.foreign_requests() == []


async def test_burst_of_vehicle_updates_with_twenty_thousand_on_the_map(
    api: Api, service: RunningService, open_page: Callable[..., Awaitable[Watched]]
) -> None:
    """Reports (does not assert) the main-thread time of a 2,000-vehicle burst."""
    player = FeedPlayer()
    player.snapshot["vehicles"] = [
        vehicle(f"T-{i:05d}", 21.30 + (i % 200) * 0.002, 39.60 + (i // 200) * 0.003,
                ("idle", "on_trip", "stalled", "arrived")[i % 4])
        for i in range(20_000)
    ]  # fmt: skip
    watched = await open_page(f"{service.base_url}/#token={api.token}", before=player.install)
    page = watched.page
    await wait_for_js(page, "window.tariq && window.tariq.vehicles.size === 20000", timeout=20_000)
    figures = {}
    stamp = 0
    views = (
        ("clustered, zoom 9", 9, TABLET),
        ("one mark per vehicle, zoom 11", 11, WHOLE_FLEET),
    )
    for label, zoom, viewport in views:
        # A big window at zoom 11 puts all 20,000 on screen, each drawn: the worst case.
        await page.set_viewport_size(viewport)
        await page.evaluate(
            "([zoom]) => { const map = window.tariq.map; map.invalidateSize(false);"
            " map.setView([21.5, 39.75], zoom, {animate: false}); }",
            [zoom],
        )
        for _ in range(4):  # the first rounds warm the JIT; keep the last
            stamp += 1
            at = f"2026-05-18T06:{stamp:02d}:00Z"
            burst = [
                {**vehicle(f"T-{i:05d}", 21.31 + (i % 200) * 0.002, 39.61 + (i // 200) * 0.003),
                 "at": at}
                for i in range(0, 20_000, 10)
            ]  # fmt: skip
            # Through the websocket, as the feed delivers it: the page applies it.
            player.send({"kind": "vehicles", "vehicles": burst})
            await wait_for_js(
                page, f"window.tariq.vehicles.get('T-19990').at === '{at}'", timeout=10_000
            )
            # Measured in the page: the same handler (parse, apply) plus the paint, and a
            # one-pixel read that makes the canvas raster its pending drawing, all synchronous
            # on the main thread.
            stamp += 1
            raw = orjson.dumps(
                {"kind": "vehicles",
                 "vehicles": [{**v, "at": f"2026-05-18T06:{stamp:02d}:00Z"} for v in burst]}
            ).decode()  # fmt: skip
            stats = await page.evaluate(
                """(raw) => { const t = window.tariq;
                const c = document.querySelector('canvas.vehicle-canvas');
                const t0 = performance.now(); t.handle(raw); const t1 = performance.now();
                t.layer.draw(); c.getContext('2d').getImageData(0, 0, 1, 1);
                const t2 = performance.now();
                return {message: t1 - t0, apply: t.stats.lastApplyMs, draw: t2 - t1, total: t2 - t0,
                        drawn: t.layer.drawn}; }""",
                raw,
            )
        figures[label] = stats
    moved = await page.evaluate("window.tariq.vehicles.get('T-00010').lat")
    assert moved == pytest.approx(21.31 + 10 * 0.002)
    for label, stats in figures.items():
        print(
            f"\n2,000-vehicle burst on 20,000 ({label}): message handled (parse + apply) "
            f"{stats['message']:.1f} ms, of which apply {stats['apply']:.1f} ms; paint "
            f"{stats['draw']:.1f} ms ({stats['drawn']} marks); "
            f"total main thread {stats['total']:.1f} ms"
        )
    assert watched.errors == []


# --------------------------------------------------------------------------- hotel


async def test_hotel_page_shows_its_own_bags_and_none_of_another_hotel(
    api: Api, service: RunningService, open_page: Callable[..., Awaitable[Watched]]
) -> None:
    await post(api, setup_events())
    await wait_until(
        lambda: _bag_known(api, "0065500001"), timeout=20, what="the bags to be processed"
    )
    token = service.token("hotel", hotel=HOTEL_A)
    watched = await open_page(f"{service.base_url}/hotel#token={token}")
    page = watched.page
    await wait_for_live(page)
    await page.locator('#bags tr.bag[data-tag="0065500000"]').wait_for(timeout=10_000)
    assert await page.text_content("#hotel-id") == HOTEL_A

    # A new bag for A arrives live; B's bag never shows.
    await post(api, [
        {"event_id": "pg-c20", "type": "bag.coded", "occurred_at": _at(5), "tag": "0065500020",
         "pilgrim_id": "P-PG0", "flight_id": "SV5301", "hotel_id": HOTEL_A},
        {"event_id": "pg-c21", "type": "bag.coded", "occurred_at": _at(5), "tag": "0065500021",
         "pilgrim_id": "P-PG1", "flight_id": "SV5301", "hotel_id": HOTEL_B},
    ])  # fmt: skip
    await page.locator('#bags tr.bag[data-tag="0065500020"]').wait_for(timeout=15_000)
    await wait_until(
        lambda: _bag_known(api, "0065500021"), timeout=20, what="B's new bag to be processed"
    )
    tags = await page.locator("#bags tr.bag").evaluate_all("rows => rows.map(r => r.dataset.tag)")
    assert sorted(tags) == ["0065500000", "0065500020"]
    assert await page.locator('#groups tr[data-flight="SV5301"]').count() == 1

    content = await page.content()
    for foreign in ("0065500001", "0065500021", HOTEL_B, "P-PG1"):
        assert foreign not in content
    # Personal data: no passports, and no pilgrim names on the hotel page.
    assert not any(p in content for p in PASSPORTS)
    assert "Siti" not in content

    await shoot(page, "hotel-en")
    await page.click("[data-lang-toggle]")
    assert await page.get_attribute("html", "dir") == "rtl"
    await shoot(page, "hotel-ar")
    assert watched.errors == []
    assert watched.foreign_requests() == []


async def _bag_known(api: Api, tag: str) -> bool:
    status, _ = await api.get(f"/api/bags/{tag}")
    return status == 200


async def test_operator_page_follows_the_real_stream_for_vehicles_and_alerts(
    api: Api, service: RunningService, open_page: Callable[..., Awaitable[Watched]]
) -> None:
    """The same through the real stack: positions posted to the API move the marker, and
    a scan of a tag nobody coded raises an `unknown_tag` alert that appears in the list."""
    await post(api, setup_events())
    watched = await open_page(f"{service.base_url}/#token={api.token}")
    page = watched.page
    await wait_for_live(page)

    def fix(n: int, lat: float, lon: float) -> dict[str, Any]:
        return {"event_id": f"real-fix-{n}", "type": "vehicle.position", "occurred_at": _at(20 + n),
                "vehicle_id": "TRK-REAL", "kind": "truck", "lat": lat, "lon": lon}  # fmt: skip

    await post(api, [fix(0, 21.50, 39.30)])
    await wait_for_js(page, "window.tariq.vehicles.get('TRK-REAL') != null", timeout=15_000)
    await post(api, [fix(1, 21.52, 39.33)])
    await wait_for_js(page, "window.tariq.vehicles.get('TRK-REAL')?.lat === 21.52", timeout=15_000)

    stray = {"event_id": "real-stray", "type": "bag.scanned", "occurred_at": _at(30),
             "tag": "0065999001", "checkpoint": "accepted", "location": "JED"}  # fmt: skip
    await post(api, [stray])
    row = page.locator("#alerts [data-alert-id]", has_text="0065999001")
    await row.first.wait_for(timeout=15_000)
    assert watched.errors == []
    assert watched.foreign_requests() == []
