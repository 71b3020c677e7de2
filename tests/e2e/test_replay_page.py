"""Replay on the operator map (issue 13), in headless Chromium through the real stack: a
simulated day (every fault kind) replayed into the service; on the map's replay bar the
operator chooses event times T, and the open alerts the page lists at T are exactly those
the independent test oracle (simulators/oracle.py) computes from the events with
occurred_at <= T, its clock at T; the flow table at T is the oracle's coded bags by
airport and stage. Then playing moves event time forward, and "Back to live" shows the
live alerts again. Screenshots of the replay state at three sizes in both languages."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page

from simulators.oracle import judge
from tariq.config import load_settings
from tariq.domain.events import AnyEvent, FlightScheduled, InvalidEvent, decode_event
from tariq.services.replay import replay
from tests.e2e import test_pages
from tests.e2e.test_pages import Watched, wait_for_js, wait_for_live
from tests.e2e.test_truth_pages import shoot_sizes
from tests.support.infra import Isolated
from tests.support.service import Api, RunningService
from tests.support.simulated import caught_up, simulate

pytestmark = pytest.mark.e2e
browser = test_pages.browser
open_page = test_pages.open_page
MINUTE = timedelta(minutes=1)


def valid_events(path: Path) -> list[AnyEvent]:
    events = []
    for line in path.read_bytes().splitlines():
        if not line.strip():
            continue
        try:
            events.append(decode_event(line))
        except InvalidEvent:
            continue  # malformed on purpose: the service dead-letters it
    return events


def oracle_at(events: list[AnyEvent], at: datetime) -> set[str]:
    """The oracle's open alerts at `at`, as the page keys them (type:tag or vehicle)."""
    result = judge([e for e in events if e.occurred_at <= at], clock=at.timestamp())
    return {f"{a.type}:{a.tag or a.vehicle_id}" for a in result.alerts}


def oracle_flow(events: list[AnyEvent], at: datetime) -> dict[str, Counter[str]]:
    """The oracle's coded bags at `at`, by their flight's arrival airport and stage."""
    airport = {e.flight_id: e.destination for e in events if isinstance(e, FlightScheduled)}
    result = judge([e for e in events if e.occurred_at <= at], clock=at.timestamp())
    flow: dict[str, Counter[str]] = {}
    for bag in result.bags.values():
        if bag.flight_id in airport:
            flow.setdefault(airport[bag.flight_id], Counter())[bag.stage] += 1
    return flow


def choose_times(events: list[AnyEvent], first: datetime) -> list[datetime]:
    """Instants on the slider's minute grid (every half hour, 7 min past): the one with the
    most kinds of open alert (then the most alerts), and the one with the most open alerts
    that are no longer open at the end (conditions that began and ended in event time)."""
    last = max(e.occurred_at for e in events)
    grid = [
        first + timedelta(minutes=7 + 30 * n) for n in range(int((last - first) / MINUTE) // 30)
    ]
    at_end = oracle_at(events, last)
    open_at = {t: oracle_at(events, t) for t in grid}
    most = max(grid, key=lambda t: (len({k.split(":")[0] for k in open_at[t]}), len(open_at[t])))
    passing = max(grid, key=lambda t: len(open_at[t] - at_end))
    return [most, passing]


async def page_alerts(page: Page) -> set[str]:
    while await page.locator("#alerts-more").count():
        await page.click("#alerts-more")
    keys = await page.evaluate(
        "[...document.querySelectorAll('#alerts li[data-alert-key]')]"
        ".map(li => li.dataset.alertKey)"
    )
    return set(keys)


async def page_flow(page: Page) -> dict[str, dict[str, int]]:
    cells: list[list[Any]] = await page.evaluate(
        "[...document.querySelectorAll('#flow td[data-airport]')].map(td =>"
        " [td.dataset.airport, td.closest('tr').dataset.stage, td.textContent])"
    )
    flow: dict[str, dict[str, int]] = {}
    for airport, stage, text in cells:
        if int(text.replace(",", "")):
            flow.setdefault(airport, {})[stage] = int(text.replace(",", ""))
    return flow


async def show_time(page: Page, at: datetime) -> None:
    """Move the slider to `at` as a user would (an input event), and wait for the view."""
    ms = int(at.timestamp() * 1000)
    await page.evaluate(
        "ms => { const s = document.querySelector('#replay-slider'); s.value = String(ms);"
        " s.dispatchEvent(new Event('input', { bubbles: true })); }",
        ms,
    )
    await wait_for_js(
        page, "ms => Date.parse(document.querySelector('#replay').dataset.at) === ms", arg=ms
    )


async def test_the_map_at_an_event_time_shows_the_oracles_open_alerts(
    api: Api,
    service: RunningService,
    space: Isolated,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    open_page: Callable[..., Awaitable[Watched]],
) -> None:
    events_file, _ = simulate(tmp_path / "day", pilgrims=1200, seed=17)
    lines = sum(1 for line in events_file.read_bytes().splitlines() if line.strip())
    for key, value in space.env.items():
        monkeypatch.setenv(key, value)
    await replay(load_settings(), events_file, progress=False)
    await caught_up(api, lines, timeout=300)
    events = valid_events(events_file)

    watched = await open_page(f"{service.base_url}/#token={api.token}")
    page = watched.page
    await wait_for_live(page)
    await page.click("#replay-enter")
    await page.wait_for_selector('#replay[data-mode="replay"][data-at]')
    # The slider starts at the service's clock, and its range begins at the first event.
    first = datetime.fromtimestamp(
        int(await page.evaluate("Number(document.querySelector('#replay-slider').min)")) / 1000,
        tz=UTC,
    )
    assert first == min(e.occurred_at for e in events)

    checked = []
    for at in choose_times(events, first):
        await show_time(page, at)
        want = oracle_at(events, at)
        assert await page_alerts(page) == want, at
        want_flow = {a: dict(c) for a, c in oracle_flow(events, at).items()}
        assert await page_flow(page) == want_flow, at
        kinds = Counter(k.split(":")[0] for k in want)
        # The map draws in red (stalled) the vehicles the oracle has stalled at T.
        drawn = await page.evaluate(
            "() => { const s = window.tariq.layer.store; let n = 0;"
            " for (let i = 0; i < s.size; i++) n += s.status[i] === 2 ? 1 : 0; return n; }"
        )
        assert drawn == kinds["vehicle_stalled"], at
        checked.append((at, kinds))
    # The first instant has every kind of alert open, stalled vehicles included.
    assert len(checked[0][1]) == 7, checked
    assert await page.get_attribute("body", "class") == "operator replaying"

    # Keyboard: the slider moves a minute of event time per arrow key.
    at = checked[0][0]
    await show_time(page, at)
    await page.focus("#replay-slider")
    await page.keyboard.press("ArrowRight")
    await wait_for_js(
        page,
        "ms => Date.parse(document.querySelector('#replay').dataset.at) === ms",
        arg=int((at + MINUTE).timestamp() * 1000),
    )
    await shoot_sizes(page, "operator-replay")

    # Playing at 600×: event time moves forward by itself; pause stops it.
    await page.select_option("#replay-speed", "600")
    await page.click("#replay-play")
    start = int((at + MINUTE).timestamp() * 1000)
    await wait_for_js(
        page,
        "ms => Date.parse(document.querySelector('#replay').dataset.at) >= ms + 10 * 60000",
        arg=start,
    )
    await page.click("#replay-play")
    assert await page.get_attribute("#replay-play", "aria-pressed") == "false"

    # Back to live: the live alerts (as /api/alerts has them open) and no replay state.
    await page.click("#replay-live")
    await page.wait_for_selector('#replay[data-mode="live"]')
    status, body = await api.get("/api/alerts?status=open&limit=1")
    assert status == 200
    await wait_for_js(
        page,
        "n => Number(document.querySelector('#alert-total').textContent.replace(/,/g, '')) === n",
        arg=body["total"],
    )
    assert await page.get_attribute("body", "class") == "operator"
    assert watched.errors == []
