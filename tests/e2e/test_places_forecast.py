"""Place names, the legend and the per-hotel forecast through the real stack (issue 13):

- the operator map writes the cities' and airports' names at the opening zoom and a hotel's
  when zoomed in, in English and Arabic; the legend's colours are the colours the map paints
  (read back from the canvases' pixels);
- `GET /api/hotels/{id}/forecast` gives the last expected bag's time by the documented model
  (an oracle here recomputes it from the stages, the flights and the road planner) and a
  truck's planned ETA for bags on it; the hotel page shows it in local time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlparse

import pytest

from routing.eta import Destination, EtaPlanner
from routing.geo import AIRPORTS
from tests.e2e import test_pages
from tests.e2e.test_pages import Watched, wait_for_js, wait_for_live
from tests.e2e.test_truth_pages import A, B, at, coded, fix, post, processed, scan, world
from tests.support.service import Api, RunningService, wait_until

pytestmark = pytest.mark.e2e
browser = test_pages.browser
open_page = test_pages.open_page

HOTEL_A = (21.4155, 39.8275)  # as world() registers A
MED_FLIGHT = "SV5502-2026-05-18"
TRUCK = "TRK-FCST"


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _local(value: datetime) -> str:
    """As the pages write a time: Asia/Riyadh (UTC+3, no daylight saving), with the offset."""
    return (value + timedelta(hours=3)).strftime("%Y-%m-%d %H:%M +03")


def forecast_events() -> list[dict[str, Any]]:
    """Hotel A: one bag delivered, one delivered to B (misrouted), one sorted at MED, one
    still coded on the JED flight. Hotel B: one bag on a truck that has left JED."""
    delivered, wrong, sorted_med, in_air, on_truck = (f"00656009{i:02d}" for i in range(5))
    events = world()
    events += [coded(delivered, A), coded(wrong, A), coded(in_air, A)]
    events += [coded(sorted_med, A, MED_FLIGHT), coded(on_truck, B, n=1)]
    events += [scan(delivered, "delivered", A, 30), scan(wrong, "delivered", B, 31)]
    events += [scan(sorted_med, "sorted", "MED", 20, hotel_id=A)]
    events += [scan(on_truck, "sorted", "JED", 8, hotel_id=B)]
    events += [scan(on_truck, "truck_loaded", "JED", 10, vehicle_id=TRUCK)]
    route = [(11, 21.679, 39.157), (14, 21.62, 39.35), (18, 21.55, 39.52), (22, 21.50, 39.65)]
    events += [fix(TRUCK, n, minute, lat, lon) for n, (minute, lat, lon) in enumerate(route)]
    return events


def oracle_last(as_of: datetime, planner: EtaPlanner) -> datetime:
    """Hotel A's last bag by the model in docs/contract-extensions.md, computed here."""

    def drive(airport: str, leaves: datetime) -> timedelta:
        [stop] = planner.plan(*AIRPORTS[airport], leaves, [Destination(A, *HOTEL_A)])
        return stop.eta - leaves

    minutes = timedelta(minutes=1)
    # Coded on the JED flight (scheduled to land at -60): offload 40, sort 45, load 25.
    jed_leaves = max(as_of, _time(at(-60)) + 40 * minutes) + (45 + 25) * minutes
    # Sorted at MED at minute 20: load 25.
    med_leaves = max(as_of, _time(at(20)) + 25 * minutes)
    return max(jed_leaves + drive("JED", jed_leaves), med_leaves + drive("MED", med_leaves))


async def test_the_forecast_by_the_model_and_the_trucks_eta_on_the_api_and_the_page(
    api: Api, service: RunningService, open_page: Callable[..., Awaitable[Watched]]
) -> None:
    events = forecast_events()
    await post(api, events)
    await processed(api, len(events))
    token_a, token_b = service.token("hotel", hotel=A), service.token("hotel", hotel=B)

    # Hotel B: its bag is on a truck; once the stream has planned the trip, the forecast is
    # the truck's ETA for B, as the stream planned it (the pilgrim's page shows the same).
    async def truck_planned() -> dict[str, Any] | None:
        status, body = await api.get(f"/api/hotels/{B}/forecast", token=token_b)
        assert status == 200, body
        return body if body["basis"] == "truck" else None

    await wait_until(truck_planned, timeout=60, what="the truck's ETA for B")
    status, b = await api.get(f"/api/hotels/{B}/forecast", token=token_b)
    assert (b["expected"], b["remaining"], b["on_truck"], b["waiting"]) == (1, 1, 1, 0)
    assert b["complete"] is True
    link = service.tariq("pilgrim", "link", "P-TP1").strip().splitlines()[-1]
    status, pilgrim = await api.get(f"{urlparse(link).path}/data")
    assert status == 200, pilgrim
    [bag] = pilgrim["bags"]
    assert _time(b["last_expected_at"]) == max(_time(bag["eta"]), _time(b["as_of"]))

    # Hotel A: by the model; the misrouted bag has no forecast.
    status, f = await api.get(f"/api/hotels/{A}/forecast", token=token_a)
    assert status == 200, f
    assert (f["expected"], f["delivered"], f["remaining"]) == (4, 1, 3)
    assert (f["waiting"], f["on_truck"], f["misrouted"], f["without_forecast"]) == (2, 0, 1, 1)
    assert f["complete"] is False and f["basis"] == "estimate"
    last = oracle_last(_time(f["as_of"]), EtaPlanner())
    assert _time(f["last_expected_at"]) == last
    # Each hotel sees only its own forecast; an operator sees any.
    status, _ = await api.get(f"/api/hotels/{A}/forecast", token=token_b)
    assert status == 403
    status, same = await api.get(f"/api/hotels/{A}/forecast")
    assert status == 200 and same["last_expected_at"] == f["last_expected_at"]

    # The hotel page says it, in local time, with what remains; in Arabic too.
    watched = await open_page(f"{service.base_url}/hotel#token={token_a}")
    page = watched.page
    await wait_for_live(page)
    line = page.locator(f'#forecast[data-last="{f["last_expected_at"]}"] #forecast-line')
    await line.wait_for(timeout=20_000)
    text = await line.text_content() or ""
    assert f"Last bag expected at {_local(last)}" in text, text
    assert "3 bags to come" in text and "1 bag without a forecast" in text, text
    await page.click("[data-lang-toggle]")
    await page.locator("#forecast-line", has_text="متبقية").wait_for(timeout=5_000)
    text = await line.text_content() or ""
    assert _local(last) in text and "آخر حقيبة" in text, text
    assert watched.errors == []


# --------------------------------------------------------------------------- the map

SAMPLE_PIXEL = """([canvas, x, y]) => {
  const c = canvas === 'vehicles' ? document.querySelector('.vehicle-canvas')
                                  : window.tariq.hotelMarker.options.renderer._container;
  const map = window.tariq.map.getContainer().getBoundingClientRect();
  const box = c.getBoundingClientRect();
  const px = Math.round((map.left + x - box.left) * c.width / box.width);
  const py = Math.round((map.top + y - box.top) * c.height / box.height);
  const [r, g, b, a] = c.getContext('2d').getImageData(px, py, 1, 1).data;
  return a === 255 ? `rgb(${r}, ${g}, ${b})` : `rgba(${r}, ${g}, ${b}, ${a})`;
}"""
FIND_HOTEL_MARKER = """(lat) => { window.tariq.map.eachLayer((l) => {
  if (l.getLatLng && l.options.fillColor && l.getLatLng().lat === lat) window.tariq.hotelMarker = l;
}); }"""
SET_STATUS = """([id, status]) => {
  window.tariq.vehicles.applyStatus([{vehicle_id: id, status}]);
  window.tariq.layer.draw();
}"""
LEGEND_COLOUR = """(cls) => {
  const swatch = document.querySelector(`#legend .key.${cls} .swatch`);
  return getComputedStyle(swatch).backgroundColor;
}"""


async def test_place_names_at_zoom_in_both_languages_and_a_legend_of_the_drawn_colours(
    api: Api, service: RunningService, open_page: Callable[..., Awaitable[Watched]]
) -> None:
    vehicle = "TRK-LEGEND"
    events = [*world(), fix(vehicle, 0, 5, 22.6, 39.3)]  # on no road, far from everything
    await post(api, events)
    await processed(api, len(events))
    watched = await open_page(f"{service.base_url}/#token={api.token}")
    page = watched.page
    await page.set_viewport_size({"width": 1440, "height": 900})
    await wait_for_live(page)
    await wait_for_js(page, "window.tariq.geography !== undefined", timeout=20_000)

    # The opening view: cities and airports named, hotels not yet (too dense from afar).
    shown = {
        (s["kind"], s["id"]): s["text"] for s in await page.evaluate("window.tariq.labels.shown()")
    }
    assert shown[("city", "makkah")] == "Makkah" and shown[("city", "jeddah")] == "Jeddah"
    assert shown[("city", "madinah")] == "Madinah"
    assert shown[("airport", "JED")].startswith("JED · King Abdulaziz")
    assert shown[("airport", "MED")].startswith("MED ·")
    assert not any(kind == "hotel" for kind, _ in shown)
    labels = page.locator(".place-label.place-city", has_text="Makkah")
    assert await labels.count() == 1 and await labels.first.is_visible()

    # Zoomed in on hotel A: its id and name are written next to it.
    await page.evaluate(
        f"void window.tariq.map.setView([{HOTEL_A[0]}, {HOTEL_A[1]}], 16, {{animate: false}})"
    )
    await page.locator(".place-label.place-hotel", has_text=f"{A} · Ajyad A").wait_for(
        timeout=10_000
    )
    # In Arabic the names are Arabic (ids stay as they are).
    await page.click("[data-lang-toggle]")
    await page.locator(".place-label.place-landmark", has_text="المسجد الحرام").wait_for(
        timeout=5_000
    )
    await page.locator(".place-label.place-hotel", has_text=A).wait_for(timeout=5_000)
    await page.evaluate("void window.tariq.map.setView([22.9, 39.5], 7, {animate: false})")
    await page.locator(".place-label.place-city", has_text="مكة المكرمة").wait_for(timeout=5_000)
    await page.locator("#legend .key.legend-hotel", has_text="فندق").wait_for(timeout=5_000)
    await page.click("[data-lang-toggle]")

    # The legend's colours are the ones painted. A hotel: the marker canvas at its centre.
    await page.evaluate(FIND_HOTEL_MARKER, HOTEL_A[0])
    await page.evaluate(
        f"void window.tariq.map.setView([{HOTEL_A[0]}, {HOTEL_A[1]}], 17, {{animate: false}})"
    )
    point = await page.evaluate(
        f"window.tariq.map.latLngToContainerPoint([{HOTEL_A[0]}, {HOTEL_A[1]}])"
    )
    painted = await page.evaluate(SAMPLE_PIXEL, ["hotels", point["x"], point["y"]])
    assert painted == await page.evaluate(LEGEND_COLOUR, "legend-hotel")

    # A vehicle in each status (the server says idle; the others set as the feed would).
    await wait_for_js(page, f"window.tariq.vehicles.get('{vehicle}') !== null", timeout=20_000)
    await page.evaluate("void window.tariq.map.setView([22.6, 39.3], 12, {animate: false})")
    colours = {}
    for status in ("idle", "on_trip", "stalled", "arrived"):
        await page.evaluate(SET_STATUS, [vehicle, status])
        at_point = await page.evaluate(f"window.tariq.layer.pointOf('{vehicle}')")
        painted = await page.evaluate(SAMPLE_PIXEL, ["vehicles", at_point["x"], at_point["y"]])
        legend = await page.evaluate(LEGEND_COLOUR, f"status-{status}")
        assert painted == legend, status
        colours[status] = painted
    assert len(set(colours.values())) == 4  # four statuses, four colours
    assert watched.errors == []
