"""The pilgrim's page, the in-bus screen and the handheld counter in a real headless Chromium
(Debian's), against the service run as processes (contract section 7)."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize

from tests.e2e.test_pages import (  # noqa: F401 (browser: a fixture)
    Watched,
    browser,
    post,
    shoot,
)
from tests.support.service import Api, RunningService, wait_until

pytestmark = pytest.mark.e2e

PHONE: ViewportSize = {"width": 360, "height": 740}
TABLET: ViewportSize = {"width": 800, "height": 1280}
HOTEL, OTHER_HOTEL = "MAK-FA1", "MAK-FB1"
MINE, THEIRS = "0065610000", "0065610001"
PASSPORT = "K9988776"


def _at(minute: int) -> str:
    return f"2026-05-18T06:{minute:02d}:00Z"


def setup_events() -> list[dict[str, Any]]:
    """Two hotels, a flight from Karachi, two pilgrims (one Pakistani), one bag each."""
    return [
        {"event_id": "fa-h1", "type": "hotel.registered", "occurred_at": _at(0),
         "hotel_id": HOTEL, "name": "Ajyad Residence A", "city": "makkah",
         "lat": 21.4155, "lon": 39.8275},
        {"event_id": "fa-h2", "type": "hotel.registered", "occurred_at": _at(0),
         "hotel_id": OTHER_HOTEL, "name": "Jarwal Residence B", "city": "makkah",
         "lat": 21.4290, "lon": 39.8120},
        {"event_id": "fa-f1", "type": "flight.scheduled", "occurred_at": _at(0),
         "flight_id": "PK741-2026-05-18", "origin": "KHI", "destination": "JED",
         "scheduled_departure": "2026-05-18T01:00:00Z",
         "scheduled_arrival": "2026-05-18T05:00:00Z"},
        {"event_id": "fa-p0", "type": "pilgrim.registered", "occurred_at": _at(1),
         "pilgrim_id": "P-FA0", "group_id": "G1", "flight_id": "PK741-2026-05-18",
         "hotel_id": HOTEL, "nationality": "PK", "name": "Amina Bibi Qureshi",
         "passport_no": PASSPORT},
        {"event_id": "fa-p1", "type": "pilgrim.registered", "occurred_at": _at(1),
         "pilgrim_id": "P-FA1", "group_id": "G1", "flight_id": "PK741-2026-05-18",
         "hotel_id": OTHER_HOTEL, "nationality": "ID", "name": "Siti Rahma",
         "passport_no": "B1234567"},
        {"event_id": "fa-c0", "type": "bag.coded", "occurred_at": _at(2), "tag": MINE,
         "pilgrim_id": "P-FA0", "flight_id": "PK741-2026-05-18", "hotel_id": HOTEL},
        {"event_id": "fa-c1", "type": "bag.coded", "occurred_at": _at(2), "tag": THEIRS,
         "pilgrim_id": "P-FA1", "flight_id": "PK741-2026-05-18", "hotel_id": OTHER_HOTEL},
    ]  # fmt: skip


async def _known(api: Api, tag: str) -> bool:
    return (await api.get(f"/api/bags/{tag}"))[0] == 200


def pilgrim_link(service: RunningService, pilgrim_id: str) -> str:
    """`tariq pilgrim link` as an operator runs it: the URL alone on the last line."""
    out = subprocess.run(
        [sys.executable, "-m", "tariq.cli", "pilgrim", "link", pilgrim_id],
        env=service.env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return out.stdout.strip().splitlines()[-1]


@pytest.fixture
async def contexts(browser: Browser) -> AsyncIterator[Callable[..., Awaitable[BrowserContext]]]:  # noqa: F811
    opened: list[BrowserContext] = []

    async def new(viewport: ViewportSize, **options: Any) -> BrowserContext:
        context = await browser.new_context(viewport=viewport, service_workers="block", **options)
        opened.append(context)
        return context

    yield new
    for context in opened:
        await context.close()


async def open_watched(context: BrowserContext, url: str) -> Watched:
    watched = Watched(await context.new_page())
    await watched.page.goto(url)
    return watched


async def bag_stage(page: Page, tag: str) -> str | None:
    return await page.get_attribute(f'#bags li.bag[data-tag="{tag}"]', "data-stage")


async def test_pilgrim_page_shows_own_bags_live_in_their_language_until_revoked(
    api: Api, service: RunningService, contexts: Callable[..., Awaitable[BrowserContext]]
) -> None:
    await post(api, setup_events())
    await wait_until(lambda: _known(api, THEIRS), timeout=30, what="the bags to be processed")
    url = pilgrim_link(service, "P-FA0")
    assert url.startswith(f"{service.base_url}/p/") and len(url.rsplit("/", 1)[1]) == 32

    # English, on a 360 px phone.
    phone = await contexts(PHONE)
    watched = await open_watched(phone, url + "?lang=en")
    page = watched.page
    bag = page.locator(f'#bags li.bag[data-tag="{MINE}"]')
    await bag.wait_for(timeout=15_000)
    assert await page.get_attribute("html", "lang") == "en"
    assert await page.get_attribute("html", "dir") == "ltr"
    assert "Labelled at your home airport" in await bag.inner_text()
    assert await page.text_content("#hello") == "Assalamu alaikum, Amina"
    assert "Ajyad Residence A" in (await page.text_content("#hotel") or "")
    assert MINE in (await page.text_content("#missing-tags") or "")

    # A scan posted now shows up on the open page without a reload (it polls every 15 s).
    sorted_scan = {"event_id": "fa-s0", "type": "bag.scanned", "occurred_at": _at(30),
                   "tag": MINE, "checkpoint": "sorted", "location": "JED",
                   "hotel_id": HOTEL}  # fmt: skip
    await post(api, [sorted_scan])
    await page.wait_for_selector(
        f'#bags li.bag[data-tag="{MINE}"][data-stage="sorted"]', timeout=45_000
    )
    assert "Sorted for your hotel at Jeddah airport" in await bag.inner_text()
    await shoot(page, "pilgrim-en-phone")
    # The page does not overflow a 360 px screen.
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    # Nothing about the other pilgrim, no passport, no family name.
    content = await page.content()
    for foreign in (THEIRS, "P-FA1", "Siti", OTHER_HOTEL, "Jarwal", PASSPORT, "Qureshi",
                    "Bibi", "P-FA0"):  # fmt: skip
        assert foreign not in content, foreign
    assert watched.errors == [] and watched.foreign_requests() == []

    # No ?lang: the language comes from the nationality (Pakistan: Urdu, right to left).
    tablet = await contexts(TABLET)
    watched_ur = await open_watched(tablet, url)
    page_ur = watched_ur.page
    await page_ur.wait_for_function("() => document.documentElement.lang === 'ur'", timeout=15_000)
    await page_ur.locator(f'#bags li.bag[data-tag="{MINE}"]').wait_for(timeout=15_000)
    assert await page_ur.get_attribute("html", "dir") == "rtl"
    assert "جدہ ہوائی اڈہ" in await page_ur.locator("#bags").inner_text()
    await shoot(page_ur, "pilgrim-ur-tablet")
    # Switchable: the menu changes language, direction and the URL's ?lang.
    await page_ur.select_option("#lang", "fr")
    await page_ur.wait_for_function("() => document.documentElement.lang === 'fr'")
    assert await page_ur.get_attribute("html", "dir") == "ltr"
    assert "lang=fr" in page_ur.url
    assert "Trié pour votre hôtel" in await page_ur.locator("#bags").inner_text()

    # English on a tablet.
    watched_en = await open_watched(await contexts(TABLET), url + "?lang=en")
    await watched_en.page.locator(f'#bags li.bag[data-tag="{MINE}"]').wait_for(timeout=15_000)
    await shoot(watched_en.page, "pilgrim-en-tablet")

    # ?lang=ur on the phone: Urdu, right to left.
    await page.goto(url + "?lang=ur")
    await page.wait_for_function("() => document.documentElement.lang === 'ur'", timeout=15_000)
    assert await page.get_attribute("html", "dir") == "rtl"
    await page.locator(f'#bags li.bag[data-tag="{MINE}"]').wait_for(timeout=15_000)
    await shoot(page, "pilgrim-ur-phone")
    assert watched_ur.errors == [] and watched_ur.foreign_requests() == []

    await report_page_weight(await contexts(PHONE), url + "?lang=ur")

    # The operator's API gives another working link; revoking ends every link: 404.
    status, body = await api.get("/api/pilgrims/P-FA0/link")
    assert status == 200 and body["url"] != url
    second = body["url"]
    async with aiohttp.ClientSession() as session:
        async with session.get(second) as response:
            assert response.status == 200
            csp = response.headers["Content-Security-Policy"]
            assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
            assert response.headers["Referrer-Policy"] == "no-referrer"
        async with session.delete(
            f"{service.base_url}/api/pilgrims/P-FA0/link",
            headers={"Authorization": f"Bearer {api.token}"},
        ) as response:
            assert response.status == 200 and (await response.json())["revoked"] == 2
        for gone in (url, second, url + "/data", f"{service.base_url}/p/{'A' * 32}"):
            async with session.get(gone) as response:
                assert response.status == 404, gone
    assert (await api.get("/api/pilgrims/NOBODY/link"))[0] == 404
    hotel_token = service.token("hotel", hotel=HOTEL)
    assert (await api.get("/api/pilgrims/P-FA0/link", token=hotel_token))[0] == 403


async def report_page_weight(context: BrowserContext, url: str) -> None:
    """Prints (does not assert) the bytes a first visit transfers: HTML, JS, CSS, the
    language's catalogue and the data, as served (no compression configured)."""
    sizes: dict[str, int] = {}
    page = await context.new_page()

    async def record(response: Any) -> None:
        body = await response.body()
        sizes[response.url.rsplit("/", 1)[-1].split("?")[0] or "page"] = len(body)

    page.on("response", record)
    await page.goto(url)
    await page.locator("#bags li.bag").first.wait_for(timeout=15_000)
    await page.wait_for_load_state("networkidle")
    total = sum(sizes.values())
    listing = ", ".join(f"{name} {size:,}" for name, size in sorted(sizes.items()))
    print(f"\npilgrim page first load, bytes transferred: {total:,} ({listing})")


async def test_pilgrim_page_is_rate_limited_per_address(api: Api, service: RunningService) -> None:
    statuses = []
    async with aiohttp.ClientSession() as session:
        for _ in range(70):
            async with session.get(f"{service.base_url}/p/{'B' * 32}/data") as response:
                statuses.append(response.status)
                if response.status == 429:
                    assert response.headers["Retry-After"] == "60"
    assert statuses[:50] == [404] * 50  # within the limit: an unknown link is a 404
    assert 429 in statuses[60:]


# --------------------------------------------------------------------------- in-bus screen

BUS = "BUS-F1"


def bus_events() -> list[dict[str, Any]]:
    """Two pilgrims (Pakistan, Indonesia) board a bus at Jeddah airport, which then leaves."""
    events = setup_events()
    events += [
        {"event_id": "fb-b0", "type": "pilgrim.bus_boarded", "occurred_at": _at(10),
         "pilgrim_id": "P-FA0", "vehicle_id": BUS},
        {"event_id": "fb-b1", "type": "pilgrim.bus_boarded", "occurred_at": _at(10),
         "pilgrim_id": "P-FA1", "vehicle_id": BUS},
        {"event_id": "fb-s0", "type": "bag.scanned", "occurred_at": _at(11), "tag": MINE,
         "checkpoint": "truck_loaded", "location": "JED", "vehicle_id": "TRK-F9"},
        {"event_id": "fb-x0", "type": "vehicle.position", "occurred_at": _at(12),
         "vehicle_id": BUS, "kind": "bus", "lat": 21.679, "lon": 39.157},
        {"event_id": "fb-x1", "type": "vehicle.position", "occurred_at": _at(14),
         "vehicle_id": BUS, "kind": "bus", "lat": 21.60, "lon": 39.40},
    ]  # fmt: skip
    return events


async def test_bus_screen_next_stop_bags_languages_and_stall(
    api: Api, service: RunningService, contexts: Callable[..., Awaitable[BrowserContext]]
) -> None:
    events = bus_events()
    await post(api, events)
    device = service.token("device", vehicle=BUS)

    async def on_trip() -> bool:
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                f"{service.base_url}/bus/{BUS}/data", headers={"Authorization": f"Bearer {device}"}
            ) as response,
        ):
            body = await response.json() if response.status == 200 else {}
        return bool(body.get("eta") and body.get("next_stop") and len(body["passengers"]) == 2)

    await wait_until(on_trip, timeout=60, what="the bus to be on its trip with an ETA")

    tablet = await contexts(TABLET)
    watched = await open_watched(tablet, f"{service.base_url}/bus/{BUS}?rotate=1500#token={device}")
    page = watched.page
    await page.locator(f'#passengers li[data-tag="{MINE}"]').wait_for(timeout=15_000)
    assert "token=" not in page.url
    # Languages of the passengers (Urdu, Indonesian) and English, in turn.
    assert set(await page.evaluate("window.tariq.langs")) == {"ur", "id", "en"}
    await page.wait_for_function("() => document.documentElement.lang === 'en'", timeout=15_000)
    text = await page.locator("body").inner_text()
    assert "Next stop: Ajyad Residence A" in text or "Next stop: Jarwal Residence B" in text
    assert "Arriving in about" in text
    assert "On the truck to your hotel" in text and "Labelled at your home airport" in text
    await shoot(page, "bus-en-tablet")
    await page.wait_for_function("() => document.documentElement.lang === 'ur'", timeout=15_000)
    assert await page.get_attribute("html", "dir") == "rtl"
    assert "آپ کے ہوٹل جانے والے ٹرک میں" in await page.locator("#passengers").inner_text()
    await shoot(page, "bus-ur-tablet")
    content = await page.content()
    assert PASSPORT not in content and "Amina" not in content and "Siti" not in content

    # The bus stands still on the road for 20 minutes: the ETA is marked uncertain.
    stall = [
        {"event_id": f"fb-st{n}", "type": "vehicle.position", "occurred_at": _at(15 + 11 * n),
         "vehicle_id": BUS, "kind": "bus", "lat": 21.55, "lon": 39.45}
        for n in range(3)
    ]  # fmt: skip
    await post(api, stall)
    await page.wait_for_selector('#eta[data-uncertain="true"]', timeout=60_000)
    phone = await contexts(PHONE)
    watched_phone = await open_watched(
        phone, f"{service.base_url}/bus/{BUS}?rotate=600000#token={device}"
    )
    await watched_phone.page.wait_for_selector('#eta[data-uncertain="true"]', timeout=15_000)
    assert "the arrival time is not certain" in (
        await watched_phone.page.text_content("#eta") or ""
    )
    await shoot(watched_phone.page, "bus-en-phone")
    phone_ur = await open_watched(phone, f"{service.base_url}/bus/{BUS}?rotate=1000#token={device}")
    await phone_ur.page.wait_for_function(
        "() => document.documentElement.lang === 'ur'", timeout=15_000
    )
    assert await phone_ur.page.get_attribute("html", "dir") == "rtl"
    await shoot(phone_ur.page, "bus-ur-phone")
    assert watched.errors == [] and watched.foreign_requests() == []
    assert watched_phone.errors == []

    # An unknown bus is a 404 (to an operator; a device bound to another bus gets 403): the
    # data, the feed and the page's message.
    operator = service.token("operator")
    async with aiohttp.ClientSession() as session:
        headers = {"Authorization": f"Bearer {device}"}
        async with session.get(f"{service.base_url}/bus/NO-BUS/data", headers=headers) as r:
            assert r.status == 403
        headers = {"Authorization": f"Bearer {operator}"}
        async with session.get(f"{service.base_url}/bus/NO-BUS/data", headers=headers) as r:
            assert r.status == 404
        ws_base = service.base_url.replace("http", "ws")
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(f"{ws_base}/ws/bus/NO-BUS?token={operator}")
        assert refused.value.status == 404
        hotel = service.token("hotel", hotel=HOTEL)
        async with session.get(
            f"{service.base_url}/bus/{BUS}/data", headers={"Authorization": f"Bearer {hotel}"}
        ) as r:
            assert r.status == 403
    unknown = await open_watched(phone, f"{service.base_url}/bus/NO-BUS#token={operator}")
    await unknown.page.wait_for_selector('#message[data-problem="bus.unknown"]', timeout=15_000)


# --------------------------------------------------------------------------- labels


async def test_labels_render_arabic_right_to_left_in_chromium(
    contexts: Callable[..., Awaitable[BrowserContext]],
) -> None:
    """The coding-hall label as Chromium draws it (what prints from a browser): Arabic lines
    end at the right margin and stay on the label; screenshots for a person to look at."""
    from tagging.labels import Label, render_svg
    from tagging.tags import make_tag

    label = Label(make_tag("214", 123456), "PK-000123", "PK741-2026-05-18", "JED",
                  "MAK-FA1", 7, "أحمد علي")  # fmt: skip
    page = await (await contexts({"width": 800, "height": 400})).new_page()
    for lang in ("en", "ar"):
        svg = render_svg(label, lang).replace(
            'width="100mm" height="50mm"', 'width="800" height="400"'
        )
        await page.set_content(f"<!doctype html><body style='margin:0'>{svg}</body>")
        boxes = await page.evaluate(
            "() => Array.from(document.querySelectorAll('text[direction=rtl]'), t => {"
            " const b = t.getBBox(); return [b.x, b.x + b.width]; })"
        )
        assert boxes, "the Arabic name (and on the Arabic label, the captions) set right to left"
        for left, right in boxes:
            assert left >= 4 and 95 <= right <= 96.5, (left, right)
        await shoot(page, f"label-{lang}")


# --------------------------------------------------------------------------- handheld counter


async def _history(api: Api, tag: str) -> list[dict[str, Any]]:
    status, body = await api.get(f"/api/bags/{tag}")
    return list(body["history"]) if status == 200 else []


async def test_scan_counter_queues_offline_and_counts_each_scan_once(
    api: Api, service: RunningService, contexts: Callable[..., Awaitable[BrowserContext]]
) -> None:
    await post(api, setup_events())
    await wait_until(lambda: _known(api, THEIRS), timeout=30, what="the bags to be processed")
    device = service.token("device")
    phone = await contexts(PHONE)
    watched = await open_watched(phone, f"{service.base_url}/scan#token={device}")
    page = watched.page
    assert "token=" not in page.url

    # The shift: offloaded at Jeddah, chosen once (kept across reloads).
    await page.select_option("#checkpoint", "offloaded")
    await page.fill("#location", "JED")
    await page.click("#shift button[type=submit]")
    await page.reload()
    await page.locator("#counter").wait_for(timeout=10_000)
    assert "JED" in (await page.text_content("#current") or "")

    # Online: counted, and the route label shows at once.
    await page.fill("#tag", MINE)
    await page.press("#tag", "Enter")
    await page.wait_for_selector(f'#label[data-tag="{MINE}"][data-state="known"]', timeout=10_000)
    label = await page.inner_text("#label")
    assert "PK741-2026-05-18" in label and "Ajyad Residence A" in label and "P-FA0" in label
    await page.wait_for_selector('#queue[data-count="0"]', timeout=10_000)
    await shoot(page, "scan-en-phone")
    assert await page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]

    # Offline: two scans queue on the device (IndexedDB) and do not reach the service.
    await phone.set_offline(True)
    for tag in (THEIRS, MINE):
        await page.fill("#tag", tag)
        await page.press("#tag", "Enter")
        await page.wait_for_selector(f'#label[data-tag="{tag}"]', timeout=10_000)
    await page.wait_for_selector('#queue[data-count="2"]', timeout=10_000)
    assert await page.get_attribute("#net", "data-state") == "offline"
    queued_ids = await page.evaluate(
        "() => window.tariq.recent.filter(r => r.status === 'queued').map(r => r.event_id)"
    )
    assert len(queued_ids) == 2
    await shoot(page, "scan-en-offline-phone")

    # Back online, the first POST reaches the service but its answer is lost: the page
    # sends the same events again, and the service counts them once.
    lost: list[str] = []

    async def lose_answer(route: Any) -> None:
        if not lost:
            lost.append(route.request.post_data or "")
            await route.fetch()  # delivered to the service...
            await route.abort("connectionreset")  # ...but the page never hears back
        else:
            await route.continue_()

    await page.route("**/api/events", lose_answer)
    before = (await api.summary())["events"]
    await phone.set_offline(False)
    await page.evaluate("() => window.dispatchEvent(new Event('online'))")
    await page.wait_for_selector('#queue[data-count="0"]', timeout=30_000)
    assert lost and all(event_id in lost[0] for event_id in queued_ids)

    async def counted() -> bool:
        events = (await api.summary())["events"]
        return events["processed"] >= before["processed"] + 2 and (
            events["duplicates"] >= before["duplicates"] + 2
        )

    await wait_until(counted, timeout=30, what="the resent scans to be counted once")
    after = (await api.summary())["events"]
    assert after["processed"] == before["processed"] + 2
    mine = [h for h in await _history(api, MINE) if h["checkpoint"] == "offloaded"]
    theirs = [h for h in await _history(api, THEIRS) if h["checkpoint"] == "offloaded"]
    assert len(mine) == 2 and len(theirs) == 1  # one online, one offline: each once
    assert {h["event_id"] for h in mine + theirs} >= set(queued_ids)

    # An alert on a bag shows on the counter: a tag nobody labelled.
    stray = "0065619999"
    await page.fill("#tag", stray)
    await page.press("#tag", "Enter")
    await page.wait_for_selector(f'#label[data-tag="{stray}"][data-state="unknown"]')

    async def alerted() -> bool:
        status, body = await api.get(f"/api/scan/{stray}", token=device)
        return status == 200 and any(a["type"] == "unknown_tag" for a in body["alerts"])

    await wait_until(alerted, timeout=30, what="the unknown_tag alert")
    await page.fill("#tag", stray)
    await page.press("#tag", "Enter")
    await page.wait_for_selector('#label [data-alert="unknown_tag"], #label .alert')
    await page.click("#lang-toggle")
    assert await page.get_attribute("html", "dir") == "rtl"
    await page.fill("#tag", MINE)
    await page.press("#tag", "Enter")
    await page.wait_for_selector(f'#label[data-tag="{MINE}"][data-state="known"]')
    await shoot(page, "scan-ar-phone")
    assert await page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    tablet = await contexts(TABLET)
    watched_tablet = await open_watched(tablet, f"{service.base_url}/scan?lang=ar#token={device}")
    await watched_tablet.page.locator("#shift").wait_for(timeout=10_000)
    assert await watched_tablet.page.get_attribute("html", "dir") == "rtl"
    await shoot(watched_tablet.page, "scan-ar-tablet")
    watched_tablet_en = await open_watched(tablet, f"{service.base_url}/scan?lang=en")
    await watched_tablet_en.page.locator("#shift").wait_for(timeout=10_000)
    await shoot(watched_tablet_en.page, "scan-en-tablet")

    # The device API gives only what a counter needs; a hotel token may not use it.
    status, body = await api.get(f"/api/scan/{MINE}", token=device)
    assert status == 200 and set(body) == {"known", "label", "alerts"}
    assert "Amina" not in str(body) and PASSPORT not in str(body)
    hotel = service.token("hotel", hotel=HOTEL)
    assert (await api.get(f"/api/scan/{MINE}", token=hotel))[0] == 403
    assert (await api.get("/api/scan/12", token=device))[0] == 400
    assert watched.foreign_requests() == []


async def test_label_page_prints_a_pilgrims_labels_that_decode_back(
    api: Api, service: RunningService, contexts: Callable[..., Awaitable[BrowserContext]]
) -> None:
    cairosvg = pytest.importorskip("cairosvg")
    zxingcpp = pytest.importorskip("zxingcpp")
    from PIL import Image

    from tagging.labels import decode_payload
    from tagging.symbols import DPI

    await post(api, setup_events())
    await wait_until(lambda: _known(api, MINE), timeout=30, what="the bag to be processed")
    device = service.token("device")
    # The API: one SVG per bag; the name only for an operator; the codes decode back.
    status, body = await api.get("/api/pilgrims/P-FA0/labels?lang=ar")
    assert status == 200 and [x["tag"] for x in body["labels"]] == [MINE]
    svg = body["labels"][0]["svg"]
    assert "Amina Bibi Qureshi" in svg and PASSPORT not in svg
    image = Image.open(io.BytesIO(cairosvg.svg2png(bytestring=svg.encode(), dpi=DPI)))
    codes = {r.format.name: r.text for r in zxingcpp.read_barcodes(image)}
    assert codes["ITF"] == MINE
    label = decode_payload(codes["QRCode"])
    assert (label.pilgrim_id, label.flight_id, label.airport, label.hotel_id) == (
        "P-FA0", "PK741-2026-05-18", "JED", HOTEL
    )  # fmt: skip
    status, body = await api.get("/api/pilgrims/P-FA0/labels", token=device)
    assert status == 200 and "Amina" not in body["labels"][0]["svg"]
    assert (await api.get("/api/pilgrims/NOBODY/labels"))[0] == 404
    assert (await api.get("/api/pilgrims/P-FA0/labels?lang=xx"))[0] == 400

    shots = ((PHONE, "ar", "labels-ar-phone"), (TABLET, "en", "labels-en-tablet"))
    for viewport, lang, name in shots:
        url = f"{service.base_url}/labels?lang={lang}#token={device}"
        watched = await open_watched(await contexts(viewport), url)
        page = watched.page
        await page.fill("#pilgrim", "P-FA0")
        await page.select_option("#label-lang", lang)
        await page.click("#find button[type=submit]")
        await page.wait_for_selector(f'#sheet img[data-tag="{MINE}"]', timeout=15_000)
        await page.wait_for_function(
            "() => Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"
        )
        assert await page.get_attribute("html", "dir") == ("rtl" if lang == "ar" else "ltr")
        await shoot(page, name)
        assert watched.errors == [] and watched.foreign_requests() == []
