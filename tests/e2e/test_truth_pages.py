"""The pages tell the truth (issue 13), in headless Chromium through the real stack: a truck
made to stall turns stalled on an already-open map and keeps its next stop and ETA across
later positions; the flow table equals `/api/summary` per airport as the page opens; a
hotel's delivered count leaves out its misdelivered bag, the holding hotel sees it as "not
ours", and confirm / report work from the page. Screenshots at three sizes in both
languages go to artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from playwright.async_api import Page, ViewportSize

from tests.e2e import test_pages
from tests.e2e.test_pages import SCREENSHOTS, Watched, wait_for_js, wait_for_live
from tests.support.service import Api, RunningService, wait_until

pytestmark = pytest.mark.e2e
# The browser and its pages, as the other browser tests have them.
browser = test_pages.browser
open_page = test_pages.open_page

T0 = datetime(2026, 5, 18, 5, 0, tzinfo=UTC)
A, B = "MAK-TP1", "MAK-TP2"
JED = (21.679, 39.157)
STALL_AT = (21.55, 39.52)  # on the road, far from the airports and the hotels
SIZES: dict[str, ViewportSize] = {
    "desktop": {"width": 1440, "height": 900},
    "tablet": {"width": 820, "height": 1180},
    "phone": {"width": 390, "height": 844},
}


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def world() -> list[dict[str, Any]]:
    """Two hotels, a JED flight and a MED flight, a pilgrim and bags for each hotel."""
    out: list[dict[str, Any]] = [
        {"event_id": "tp-hA", "type": "hotel.registered", "occurred_at": at(0), "hotel_id": A,
         "name": "Ajyad A", "city": "makkah", "lat": 21.4155, "lon": 39.8275},
        {"event_id": "tp-hB", "type": "hotel.registered", "occurred_at": at(0), "hotel_id": B,
         "name": "Jarwal B", "city": "makkah", "lat": 21.4290, "lon": 39.8120},
    ]  # fmt: skip
    for flight, dest in (("SV5501-2026-05-18", "JED"), ("SV5502-2026-05-18", "MED")):
        out.append({"event_id": f"tp-{flight}", "type": "flight.scheduled", "occurred_at": at(0),
                    "flight_id": flight, "origin": "CGK", "destination": dest,
                    "scheduled_departure": at(-300), "scheduled_arrival": at(-60)})  # fmt: skip
    for n, hotel in enumerate((A, B)):
        out.append({"event_id": f"tp-p{n}", "type": "pilgrim.registered", "occurred_at": at(0),
                    "pilgrim_id": f"P-TP{n}", "group_id": f"G-TP{n}",
                    "flight_id": "SV5501-2026-05-18", "hotel_id": hotel,
                    "nationality": "ID"})  # fmt: skip
    return out


def coded(tag: str, hotel: str, flight: str = "SV5501-2026-05-18", n: int = 0) -> dict[str, Any]:
    return {"event_id": f"tp-c{tag}", "type": "bag.coded", "occurred_at": at(1), "tag": tag,
            "pilgrim_id": f"P-TP{n}", "flight_id": flight, "hotel_id": hotel}  # fmt: skip


def scan(tag: str, checkpoint: str, location: str, minute: float, **more: str) -> dict[str, Any]:
    return {"event_id": f"tp-s{tag}-{checkpoint}-{location}", "type": "bag.scanned",
            "occurred_at": at(minute), "tag": tag, "checkpoint": checkpoint,
            "location": location, **more}  # fmt: skip


def fix(vehicle: str, n: int, minute: float, lat: float, lon: float) -> dict[str, Any]:
    return {"event_id": f"tp-fix-{vehicle}-{n}", "type": "vehicle.position",
            "occurred_at": at(minute), "vehicle_id": vehicle, "kind": "truck",
            "lat": lat, "lon": lon}  # fmt: skip


async def post(api: Api, events: list[dict[str, Any]]) -> None:
    status, body = await api.post("/api/events", orjson.dumps(events))
    assert status == 202 and body["rejected"] == [], body


async def processed(api: Api, count: int) -> None:
    async def done() -> bool:
        events = (await api.summary())["events"]
        return events["processed"] + events["duplicates"] >= count

    await wait_until(done, timeout=90, what=f"{count} events processed")


async def shoot_sizes(page: Page, name: str) -> None:
    """Screenshots of the open page at desktop, tablet and phone size, English and Arabic."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for lang in ("en", "ar"):
        if await page.get_attribute("html", "lang") != lang:
            await page.click("[data-lang-toggle]")
        for size, viewport in SIZES.items():
            await page.set_viewport_size(viewport)
            await page.wait_for_timeout(300)  # let the layout and the map settle before the shot
            await page.screenshot(path=str(SCREENSHOTS / f"{name}-{size}-{lang}.png"))
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport["width"], f"{name} {size} {lang}: {width} px wide"
    if await page.get_attribute("html", "lang") != "en":
        await page.click("[data-lang-toggle]")


# --------------------------------------------------------------------------- the map


async def test_a_truck_made_to_stall_turns_stalled_on_an_open_map_and_keeps_its_stop_and_eta(
    api: Api, service: RunningService, open_page: Callable[..., Awaitable[Watched]]
) -> None:
    await post(api, world())
    tags = ["0065600001", "0065600002"]
    await post(api, [coded(t, A) for t in tags])
    await processed(api, len(world()) + 2)
    watched = await open_page(f"{service.base_url}/#token={api.token}")
    page = watched.page
    await wait_for_live(page)

    truck = "TRK-STALL"
    loading = [scan(t, "truck_loaded", "JED", 10, vehicle_id=truck) for t in tags]
    track = [fix(truck, 0, 11, *JED), fix(truck, 1, 14, 21.62, 39.35)]
    # Then still at one place on the road for 25 minutes: stalled after 20.
    track += [fix(truck, 2 + k, 16 + k, *STALL_AT) for k in range(26)]
    await post(api, loading + track)
    await wait_for_js(
        page, f"window.tariq.vehicles.get('{truck}')?.status === 'stalled'", timeout=60_000
    )
    before = await page.evaluate(f"window.tariq.vehicles.get('{truck}')")
    assert before["next_stop"] == A and before["eta"], before

    # A later position (still within the stall radius): the status, stop and ETA stay.
    await post(api, [fix(truck, 99, 42, STALL_AT[0] + 0.00005, STALL_AT[1])])
    await wait_for_js(
        page, f"window.tariq.vehicles.get('{truck}')?.at === '{at(42)}'", timeout=30_000
    )
    after = await page.evaluate(f"window.tariq.vehicles.get('{truck}')")
    assert (after["status"], after["next_stop"]) == ("stalled", A)
    assert after["eta"] is not None
    # The details panel shows them.
    await page.fill("#search-input", truck)
    await page.press("#search-input", "Enter")
    details = page.locator(f'#details section.vehicle[data-vehicle="{truck}"]')
    await details.wait_for(timeout=10_000)
    text = await details.text_content() or ""
    assert A in text and "stalled" in text
    # The stall alert is listed with its airport (nearest the truck: JED).
    await page.select_option("#filter-airport", "JED")
    row = page.locator("#alerts [data-alert-id]", has_text=truck)
    await row.first.wait_for(timeout=30_000)
    await page.select_option("#filter-airport", "MED")
    await row.first.wait_for(state="detached", timeout=5_000)
    assert watched.errors == []


# --------------------------------------------------------------------------- server totals


async def test_flow_table_equals_the_summary_per_airport_as_the_page_opens(
    api: Api, service: RunningService, open_page: Callable[..., Awaitable[Watched]]
) -> None:
    events = world()
    stages = ("accepted", "loaded", "offloaded", "sorted")
    for i in range(12):
        tag = f"00656001{i:02d}"
        flight = "SV5501-2026-05-18" if i % 3 else "SV5502-2026-05-18"
        events.append(coded(tag, A if i % 2 else B, flight, i % 2))
        for k, checkpoint in enumerate(stages[: i % 5]):
            origin = "CGK" if k < 2 else ("JED" if i % 3 else "MED")
            lane = {"hotel_id": A if i % 2 else B} if checkpoint == "sorted" else {}
            events.append(scan(tag, checkpoint, origin, 2 + k, **lane))
    await post(api, events)
    await processed(api, len(events))
    summary = await api.summary()
    expected = summary["bags_by_airport"]
    assert sum(expected["JED"].values()) == 8 and sum(expected["MED"].values()) == 4

    # Opened after the replay: no live event has come, the table is the server's.
    watched = await open_page(f"{service.base_url}/#token={api.token}")
    page = watched.page
    await wait_for_live(page)
    shown = await page.evaluate(
        """() => { const out = {};
        for (const td of document.querySelectorAll('#flow tbody td')) {
          const stage = td.parentElement.dataset.stage, airport = td.dataset.airport;
          (out[airport] ||= {})[stage] = Number(td.textContent.replace(/[^0-9]/g, ''));
        } return out; }"""
    )
    assert shown == {a: expected[a] for a in ("JED", "MED")}
    assert watched.errors == []


# --------------------------------------------------------------------------- hotels


async def test_hotel_pages_tell_misdelivered_from_delivered_and_confirm_and_report(
    api: Api, service: RunningService, open_page: Callable[..., Awaitable[Watched]]
) -> None:
    wrong, right, waiting = "0065600201", "0065600202", "0065600203"
    events = world() + [coded(t, A) for t in (wrong, right, waiting)]
    events += [scan(wrong, "delivered", B, 40), scan(right, "delivered", A, 41)]
    await post(api, events)
    await processed(api, len(events))
    token_a, token_b = service.token("hotel", hotel=A), service.token("hotel", hotel=B)

    page_a = (await open_page(f"{service.base_url}/hotel#token={token_a}")).page
    await wait_for_live(page_a)
    await page_a.locator(f'#bags tr.bag[data-tag="{wrong}"]').wait_for(timeout=10_000)
    assert await page_a.get_attribute(f'#bags tr[data-tag="{wrong}"]', "data-delivered") == "false"
    assert await page_a.get_attribute(f'#bags tr[data-tag="{right}"]', "data-delivered") == "true"
    assert "misdelivered" in (
        await page_a.get_attribute(f'#bags tr[data-tag="{wrong}"]', "class") or ""
    )
    assert B in (await page_a.text_content(f'#bags tr[data-tag="{wrong}"]') or "")
    assert (await page_a.text_content("#cards .card.delivered b") or "").strip() == "1"
    assert (await page_a.text_content("#cards .card.expected b") or "").strip() == "2"

    # A confirms its delivered bag from the page.
    await page_a.click(f'#bags tr[data-tag="{right}"] button.confirm')
    await page_a.locator(f'#bags tr[data-tag="{right}"] .done').wait_for(timeout=10_000)

    watched_b = await open_page(f"{service.base_url}/hotel#token={token_b}")
    page_b = watched_b.page
    await wait_for_live(page_b)
    held = page_b.locator(f'#foreign li[data-tag="{wrong}"]')
    await held.wait_for(timeout=10_000)
    assert await held.get_attribute("data-belongs") == A
    await held.locator("button.report").click()
    await held.locator(".done").wait_for(timeout=10_000)
    assert "P-TP0" not in await page_b.content()  # nothing of A's pilgrim

    # Kept on the server.
    _, listing = await api.get(f"/api/hotels/{A}/bags", token=token_a)
    assert {b["tag"] for b in listing["bags"] if b["confirmed_at"]} == {right}
    _, listing = await api.get(f"/api/hotels/{B}/bags", token=token_b)
    assert [(b["tag"], bool(b["reported_wrong_at"])) for b in listing["not_ours"]] == [
        (wrong, True)
    ]

    # A bag delivered to A live, on the open page: delivered, and counted.
    await post(api, [scan(waiting, "delivered", A, 60)])
    delivered_row = f'#bags tr[data-tag="{waiting}"][data-delivered="true"]'
    await page_a.locator(delivered_row).wait_for(timeout=20_000)
    await shoot_sizes(page_a, "hotel")
    assert watched_b.errors == []


async def test_operator_screenshots_at_three_sizes_in_both_languages(
    api: Api, service: RunningService, open_page: Callable[..., Awaitable[Watched]]
) -> None:
    events = world() + [coded(f"00656003{i:02d}", A if i % 2 else B) for i in range(6)]
    events += [scan("0065600300", "delivered", A, 30)]
    await post(api, events)
    await processed(api, len(events))
    watched = await open_page(f"{service.base_url}/#token={api.token}")
    page = watched.page
    await wait_for_live(page)
    await page.locator("#alerts [data-alert-id]").first.wait_for(timeout=30_000)
    await wait_for_js(page, "window.tariq.geography !== undefined", timeout=20_000)
    # Local time (Asia/Riyadh by default, served at /ui-config.json) with its offset.
    status, config = await api.get("/ui-config.json")
    assert (status, config) == (200, {"timezone": "Asia/Riyadh"})
    clock = page.locator('#clock bdi[dir="ltr"]')
    await clock.filter(has_text="2026-05-18 08:30 +03").wait_for(timeout=10_000)
    await shoot_sizes(page, "operator")
    assert watched.errors == []


# --------------------------------------------------------------------------- search


async def test_search_forgives_case_prefixes_and_spaces_and_lists_results(
    api: Api, service: RunningService, open_page: Callable[..., Awaitable[Watched]]
) -> None:
    events = [*world(), coded("0065600401", A), coded("0065600402", B, n=1)]
    events += [fix("TRK-SRCH1", 0, 5, 21.5, 39.4)]
    await post(api, events)
    await processed(api, len(events))

    async def found(q: str) -> set[tuple[str, str]]:
        status, body = await api.get(f"/api/search?q={quote(q)}")
        assert status == 200, body
        return {(r["kind"], r["id"]) for r in body["results"]}

    assert ("flight", "SV5501-2026-05-18") in await found("SV5501")
    assert ("flight", "SV5501-2026-05-18") in await found("sv55")
    assert ("hotel", A) in await found(A.lower())
    assert ("hotel", A) in await found("ajyad")  # by name
    assert ("group", "G-TP1") in await found("g-tp1")
    assert ("pilgrim", "P-TP0") in await found("p-tp")
    assert ("bag", "0065600401") in await found("0065 6004 01")
    assert {("bag", "0065600401"), ("bag", "0065600402")} <= await found("006560040")
    assert ("vehicle", "TRK-SRCH1") in await found("trk-s")
    assert await found("ZZZ%") == set()  # wildcards are text
    for bad in ("", "x" * 65):
        status, _ = await api.get(f"/api/search?q={quote(bad)}")
        assert status == 400

    watched = await open_page(f"{service.base_url}/#token={api.token}")
    page = watched.page
    await wait_for_live(page)
    # One result opens at once; several make a list whose entries open.
    await page.fill("#search-input", "sv5502")
    await page.press("#search-input", "Enter")
    await page.locator('#details section.flight[data-flight="SV5502-2026-05-18"]').wait_for()
    await page.fill("#search-input", "0065 6004")
    await page.press("#search-input", "Enter")
    results = page.locator("#details .results-list li")
    await results.first.wait_for(timeout=10_000)
    assert await results.count() == 2
    await page.click('#details .results-list li[data-id="0065600402"] button')
    await page.locator('#details section.bag[data-tag="0065600402"]').wait_for()
    # The flight view: pilgrims next to bags by the stage reached, no "difference".
    status, flight = await api.get("/api/flights/SV5501-2026-05-18")
    assert status == 200
    assert (flight["pilgrims_registered"], flight["pilgrims_with_bags"]) == (2, 2)
    assert flight["pilgrims_boarded"] == 0 and flight["bags_of_boarded_pilgrims"] == 0
    assert flight["bags_reached"]["coded"] == 2 and flight["bags_reached"]["loaded"] == 0
    await page.fill("#search-input", "SV5501")
    await page.press("#search-input", "Enter")
    section = page.locator('#details section.flight[data-flight="SV5501-2026-05-18"]')
    await section.wait_for()
    for row, value in (("registered", "2"), ("with-bags", "2"), ("boarded", "0")):
        assert await section.locator(f"tr.{row} td").text_content() == value
    assert await section.locator("tr.reached-coded td").text_content() == "2"
    assert await section.locator(".gap").count() == 0
    await page.fill("#search-input", "g-tp0")
    await page.press("#search-input", "Enter")
    await page.locator('#details section.group[data-group="G-TP0"]').wait_for()
    assert watched.errors == []


# --------------------------------------------------------------------------- triage


async def test_alert_triage_from_the_keyboard_on_the_feed_and_paging_beyond_300(
    api: Api, service: RunningService, open_page: Callable[..., Awaitable[Watched]]
) -> None:
    # 301 scans of tags nobody coded: 301 unknown_tag alerts (low severity).
    strays = [
        {"event_id": f"tp-stray-{i}", "type": "bag.scanned", "occurred_at": at(10),
         "tag": f"0065990{i:03d}", "checkpoint": "accepted", "location": "JED"}
        for i in range(301)
    ]  # fmt: skip
    await post(api, strays)

    async def all_raised() -> bool:
        _, body = await api.get("/api/alerts?status=open&type=unknown_tag&limit=1")
        return bool(body["total"] == 301)

    await wait_until(all_raised, timeout=90, what="301 unknown_tag alerts")
    _, listed = await api.get("/api/alerts?status=open&limit=1")
    assert listed["alerts"][0]["severity"] == "low"

    watched = await open_page(f"{service.base_url}/#token={api.token}")
    other = await open_page(f"{service.base_url}/#token={api.token}")
    page = watched.page
    for p in (page, other.page):
        await wait_for_live(p)
    rows = page.locator("#alerts li[data-alert-id]")
    await rows.first.wait_for(timeout=20_000)
    assert await rows.count() == 300
    await page.click("#alerts-more")
    await page.locator("#alerts li[data-alert-id]").nth(300).wait_for(timeout=5_000)
    assert await rows.count() == 301

    # From the keyboard: focus the first alert, move down, open it with Enter.
    await rows.first.focus()
    await page.keyboard.press("ArrowDown")
    second = await rows.nth(1).get_attribute("data-alert-id")
    assert await page.evaluate("document.activeElement.dataset.alertId") == second
    await page.keyboard.press("Enter")
    box = page.locator(f'#details section.triage[data-alert="{second}"]')
    await box.wait_for(timeout=10_000)
    await box.locator("button.acknowledge").click()
    # The other operator's page hears of it on the feed.
    acked = other.page.locator(f'#alerts li.acknowledged[data-alert-id="{second}"]')
    await acked.wait_for(timeout=15_000)
    await page.fill("#triage-assignee", "Yusuf (yard 2)")
    await page.fill("#triage-note", "Tag torn; checking the BSM")
    await page.click("#details section.triage button.save")

    async def saved() -> bool:
        _, body = await api.get("/api/alerts?status=open&type=unknown_tag&limit=1000")
        alert = next(a for a in body["alerts"] if a["alert_id"] == second)
        return bool(alert["assignee"] == "Yusuf (yard 2)" and alert["note"])

    await wait_until(saved, timeout=15, what="the assignment to be kept")
    _, body = await api.get("/api/alerts?status=open&type=unknown_tag&limit=1000")
    alert = next(a for a in body["alerts"] if a["alert_id"] == second)
    assert alert["acknowledged_at"] and len(alert["acknowledged_by"]) == 16
    status, _ = await api.post(f"/api/alerts/{second}/triage", b'{"acknowledged": "yes"}')
    assert status == 400
    status, _ = await api.post("/api/alerts/nope/triage", b'{"acknowledged": true}')
    assert status == 404
    assert watched.errors == [] and other.errors == []
