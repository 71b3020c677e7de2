"""Pure parts of the pilgrim, in-bus and handheld pages: languages, links, rate limit, views."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tariq.domain.languages import direction, given_name, language_for
from tariq.domain.links import LINK_BYTES, hash_link, is_link, new_link, page_url
from tariq.domain.pages import bus_view, pilgrim_view, scan_view, stop_eta
from tariq.domain.ratelimit import RateLimiter

CLOCK = datetime(2026, 5, 18, 9, 0, tzinfo=UTC)


def test_languages_follow_the_simulated_nationalities() -> None:
    from simulators.season import ORIGINS

    expected = {"ID": "id", "PK": "ur", "MY": "ms", "BD": "bn", "TR": "tr", "MA": "ar",
                "CI": "fr", "MV": "dv"}  # fmt: skip
    assert {o.nationality: language_for(o.nationality) for o in ORIGINS} == expected
    assert language_for(None) == "en" and language_for("ZZ") == "en"
    assert language_for(" pk ") == "ur"
    assert [direction(x) for x in ("ar", "ur", "dv", "en", "bn")] == ["rtl"] * 3 + ["ltr"] * 2


def test_only_the_given_name_is_shown() -> None:
    assert given_name("Siti Aisyah Binti Ahmad") == "Siti"
    assert given_name("  محمد بن علي ") == "محمد"
    assert given_name(None) is None and given_name("   ") is None


def test_links_are_long_random_and_stored_hashed() -> None:
    links = {new_link() for _ in range(200)}
    assert len(links) == 200
    assert LINK_BYTES * 8 >= 128
    assert all(is_link(link) and len(link) == 32 for link in links)
    link = next(iter(links))
    assert hash_link(link) != link and len(hash_link(link)) == 64
    assert not is_link("../etc/passwd") and not is_link(link[:-1]) and not is_link(link + "x")
    assert page_url("https://bags.example.org/", link) == f"https://bags.example.org/p/{link}"


def test_rate_limit_per_address_refills_over_the_minute() -> None:
    limiter = RateLimiter(per_minute=60)
    assert all(limiter.allow("10.0.0.1", 0.0) for _ in range(60))
    assert not limiter.allow("10.0.0.1", 0.5)
    assert limiter.allow("10.0.0.2", 0.5)  # another address is not affected
    # One request a second comes back: 0.5 + 1.5 s later, two more, then none.
    assert limiter.allow("10.0.0.1", 2.0) and limiter.allow("10.0.0.1", 2.0)
    assert not limiter.allow("10.0.0.1", 2.0)
    assert all(limiter.allow("10.0.0.1", 200.0) for _ in range(60))


def test_rate_limit_memory_is_bounded() -> None:
    limiter = RateLimiter(per_minute=5, max_keys=100)
    for n in range(1_000):
        limiter.allow(f"a{n}", float(n))
    assert len(limiter._buckets) <= 100


def _bag(tag: str, stage: str, **extra: object) -> dict[str, object]:
    row: dict[str, object] = {"tag": tag, "stage": stage, "location": None, "hotel_id": "H1",
           "hotel_name": "Ajyad Residence", "updated_at": CLOCK, "vehicle_id": None}  # fmt: skip
    return row | extra


def test_the_pilgrim_view_has_only_the_pilgrims_own_facts() -> None:
    plan = '[{"hotel_id": "H0", "eta": "2026-05-18T09:10:00+00:00"},' \
           ' {"hotel_id": "H1", "eta": "2026-05-18T09:40:00+00:00"}]'  # fmt: skip
    raw = {
        "person": {"name": "Amina Bibi Khan", "nationality": "PK", "hotel_id": "H1",
                   "hotel_name": "Ajyad Residence", "passport_no": "X1"},
        "bags": [
            _bag("0065000001", "sorted", location="JED"),
            _bag("0065000002", "truck_loaded", location="JED", vehicle_id="T1",
                 vehicle_status="on_trip", plan=plan),
            _bag("0065000003", "truck_loaded", vehicle_id="T2", vehicle_status="stalled",
                 plan=None, next_stop="H1", next_stop_eta=CLOCK + timedelta(minutes=25)),
            _bag("0065000004", "delivered", location="H1", location_hotel_name="Ajyad Residence",
                 attention=True),
        ],
    }  # fmt: skip
    view = pilgrim_view("P1", raw, CLOCK)
    assert view["given_name"] == "Amina" and view["lang"] == "ur" and view["dir"] == "rtl"
    assert "Khan" not in str(view) and "X1" not in str(view) and "P1" not in str(view)
    sorted_bag, on_truck, stalled, delivered = view["bags"]
    assert sorted_bag["where"] == {"kind": "airport", "code": "JED"}
    assert sorted_bag["eta"] is None and not sorted_bag["on_truck"]
    assert on_truck["eta"] == "2026-05-18T09:40:00Z" and on_truck["eta_minutes"] == 40
    assert not on_truck["eta_uncertain"]
    assert stalled["eta_minutes"] == 25 and stalled["eta_uncertain"]
    assert delivered["where"] == {"kind": "hotel", "name": "Ajyad Residence"}
    assert delivered["attention"] and not on_truck["attention"]


def test_stop_eta_reads_the_trip_plan() -> None:
    assert stop_eta('[{"hotel_id": "H1", "eta": "2026-05-18T09:40:00+00:00"}]', "H2") is None
    assert stop_eta(None, "H1") is None


def test_the_bus_view_rotates_through_the_passengers_languages() -> None:
    raw = {
        "vehicle": {"vehicle_id": "B1", "status": "stalled", "next_stop": "H1",
                    "next_stop_name": "Ajyad Residence", "eta": CLOCK + timedelta(minutes=12)},
        "rows": [
            {"pilgrim_id": "P1", "nationality": "PK", "hotel_id": "H1", "tag": "0065000001",
             "stage_rank": 4},
            {"pilgrim_id": "P1", "nationality": "PK", "hotel_id": "H1", "tag": "0065000002",
             "stage_rank": 5, "location": "JED"},
            {"pilgrim_id": "P2", "nationality": "ID", "hotel_id": "H1", "tag": None,
             "stage_rank": None},
            {"pilgrim_id": "P3", "nationality": "PK", "hotel_id": "H1", "tag": None,
             "stage_rank": None},
        ],
    }  # fmt: skip
    view = bus_view(raw, CLOCK)
    assert view["next_stop"] == "Ajyad Residence" and view["eta_minutes"] == 12
    assert view["eta_uncertain"]
    assert view["languages"] == ["ur", "id", "en"]
    assert [p["pilgrim_id"] for p in view["passengers"]] == ["P1", "P2", "P3"]
    assert [b["stage"] for b in view["passengers"][0]["bags"]] == ["sorted", "truck_loaded"]
    assert view["passengers"][1]["bags"] == []


def test_the_scan_view_shows_the_route_label_and_alerts() -> None:
    raw = {
        "bag": {"tag": "0065000001", "pilgrim_id": "P1", "flight_id": "SV1-2026-05-18",
                "airport": "JED", "hotel_id": "H1", "hotel_name": "Ajyad", "stage": "sorted",
                "location": "JED", "hotel_scan_hotel": "H2"},
        "alerts": [{"type": "misdelivered", "raised_at": CLOCK, "pilgrim_id": "P1",
                    "flight_id": None, "hotel_id": "H1", "alert_id": "a1"}],
    }  # fmt: skip
    view = scan_view(raw)
    assert view["known"] and view["label"]["hotel"] == "Ajyad"
    assert view["label"]["sorted_for"] == "H2"
    expected = {"type": "misdelivered", "raised_at": "2026-05-18T09:00:00Z", "pilgrim_id": "P1",
                "flight_id": None, "hotel_id": "H1"}  # fmt: skip
    assert view["alerts"] == [expected]
    assert scan_view({"bag": None, "alerts": []})["known"] is False
