"""`GET /openapi.json` (OpenAPI 3.1) of every `/api/` path, `GET /docs` (our own page that
renders it, offline), and JSON error bodies for everything under `/api/`.

The document is written here by hand and checked against the router: a unit test
(tests/unit/test_openapi.py) fails when a route under `/api/` is missing from it or it
describes one that does not exist; tests/e2e/test_openapi.py runs schemathesis against it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Final

from aiohttp import web

from dashboards.responses import error, json_response
from tariq.domain.alerts import ALERT_TYPES
from tariq.domain.events import CHECKPOINTS, STAGES

log = logging.getLogger(__name__)
DOCS_PAGE: Final = Path(__file__).parent / "static" / "docs.html"

Schema = dict[str, Any]


def _nullable(kind: str, **extra: Any) -> Schema:
    return {"type": [kind, "null"], **extra}


STR = {"type": "string"}
INT = {"type": "integer", "minimum": 0}
TIME = {"type": "string", "format": "date-time"}
TIME_OR_NULL = _nullable("string", format="date-time")
STR_OR_NULL = _nullable("string")
COUNTS = {"type": "object", "additionalProperties": INT}
STAGE = {"type": "string", "enum": list(STAGES)}


def _object(required: dict[str, Any], optional: dict[str, Any] | None = None) -> Schema:
    return {
        "type": "object",
        "required": list(required),
        "properties": {**required, **(optional or {})},
    }


def _paged(items_key: str, item: Schema, **more: Any) -> Schema:
    return _object(
        {
            "total": INT,
            "limit": INT,
            "offset": INT,
            items_key: {"type": "array", "items": item},
            **more,
        }
    )


ALERT = _object(
    {
        "alert_id": STR,
        "type": {"type": "string", "enum": list(ALERT_TYPES)},
        "status": {"type": "string", "enum": ["open", "resolved"]},
        "raised_at": TIME,
        "resolved_at": TIME_OR_NULL,
        "tag": STR_OR_NULL,
        "pilgrim_id": STR_OR_NULL,
        "flight_id": STR_OR_NULL,
        "hotel_id": STR_OR_NULL,
        "vehicle_id": STR_OR_NULL,
    }
)
BAG = _object(
    {
        "tag": STR,
        "pilgrim_id": STR_OR_NULL,
        "flight_id": STR_OR_NULL,
        "hotel_id": STR_OR_NULL,
        "stage": STAGE,
        "location": STR_OR_NULL,
        "updated_at": TIME_OR_NULL,
    }
)
BAG_DETAIL = _object(
    {
        **BAG["properties"],
        "history": {
            "type": "array",
            "items": _object(
                {
                    "event_id": STR,
                    "checkpoint": {"type": "string", "enum": list(CHECKPOINTS)},
                    "location": STR_OR_NULL,
                    "occurred_at": TIME,
                }
            ),
        },
        "alerts": {"type": "array", "items": ALERT},
    }
)
PILGRIM = _object(
    {
        "pilgrim_id": STR,
        "group_id": STR_OR_NULL,
        "flight_id": STR_OR_NULL,
        "hotel_id": STR_OR_NULL,
        "stage": STR,
        "bags": {"type": "array", "items": {"type": "object"}},
    },
    {"nationality": STR_OR_NULL, "name": STR_OR_NULL},
)
FLIGHT = _object(
    {
        "flight_id": STR,
        "status": STR,
        "bags_by_stage": COUNTS,
        "pilgrims_boarded": INT,
        "alerts_open": INT,
    },
    {"alerts_open_by_type": COUNTS, "bags_loaded": INT},
)
HOTEL_BAGS = _paged(
    "bags",
    _object(
        {"tag": STR, "pilgrim_id": STR_OR_NULL, "stage": STAGE},
        {"eta": TIME_OR_NULL, "flight_id": STR_OR_NULL, "location": STR_OR_NULL},
    ),
    hotel_id=STR,
    expected=INT,
    delivered=INT,
)
NUMBER = {"type": "number", "minimum": 0}
HOTEL_FORECAST = _object(
    {
        "hotel_id": STR,
        "as_of": TIME_OR_NULL,
        "expected": INT,
        "delivered": INT,
        "remaining": INT,
        "on_truck": INT,
        "waiting": INT,
        "without_forecast": INT,
        "misrouted": INT,
        "complete": {"type": "boolean"},
        "last_expected_at": TIME_OR_NULL,
        "basis": {"enum": ["truck", "estimate", None]},
        "model": _object({"offload_min": NUMBER, "sort_min": NUMBER, "load_min": NUMBER}),
    }
)
SUMMARY = _object(
    {
        "bags_by_stage": COUNTS,
        "alerts_open_by_type": COUNTS,
        "events": _object({"processed": INT, "duplicates": INT, "rejected": INT}),
        "clock": TIME_OR_NULL,
    }
)
NOTICE = _object(
    {"notice_id": STR, "hotel_id": STR, "kind": {"enum": ["bags_en_route", "bags_delivered"]}},
    {"vehicle_id": STR_OR_NULL, "tags": {"type": "array", "items": STR}, "eta": TIME_OR_NULL},
)
TRACK = _object(
    {
        "vehicle_id": STR,
        "fixes": {
            "type": "array",
            "items": _object(
                {"lat": {"type": "number"}, "lon": {"type": "number"}, "at": TIME},
                {"speed_kmh": {"type": "number"}},
            ),
        },
    }
)
REPLAY_ALERT = _object(
    {
        "type": {"type": "string", "enum": list(ALERT_TYPES)},
        "tag": STR_OR_NULL,
        "vehicle_id": STR_OR_NULL,
        "pilgrim_id": STR_OR_NULL,
        "flight_id": STR_OR_NULL,
        "hotel_id": STR_OR_NULL,
        "airport": STR_OR_NULL,
        "began_at": TIME,
        "ended_at": TIME_OR_NULL,
    }
)
REPLAY = _object(
    {
        "at": TIME,
        "first": TIME_OR_NULL,
        "clock": TIME_OR_NULL,
        "vehicles": {
            "type": "array",
            "items": _object(
                {
                    "vehicle_id": STR,
                    "kind": STR_OR_NULL,
                    "lat": {"type": "number"},
                    "lon": {"type": "number"},
                    "at": TIME,
                    "status": {"enum": ["stalled", None]},
                }
            ),
        },
        "bags_by_stage": COUNTS,
        "bags_by_airport": {"type": "object", "additionalProperties": COUNTS},
        "alerts_open_by_type": COUNTS,
        "alerts": {"type": "array", "items": REPLAY_ALERT},
    }
)
ERROR = _object({"error": STR})
EVENT = {
    "type": "object",
    "description": "A contract event (docs/contract.md section 1)",
    "required": ["event_id", "type", "occurred_at"],
    "properties": {"event_id": STR, "type": STR, "occurred_at": STR, "source": STR},
}
CSV = {"text/csv": {"schema": {"type": "string"}}}


def _error(description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": ERROR}}}


ERRORS: Final = {
    "409": _error("Conflicts with what the service knows"),
    "400": _error("Bad request (a bad parameter or body)"),
    "401": _error("Missing or invalid bearer token"),
    "403": _error("The token's role may not do this"),
    "404": _error("Not found"),
}


def _ok(schema: Schema, description: str = "OK") -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _path(name: str, description: str) -> Schema:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": STR,
    }


def _query(name: str, description: str, schema: Schema | None = None) -> Schema:
    return {"name": name, "in": "query", "description": description, "schema": schema or STR}


PAGING = [
    _query(
        "limit",
        "page size (default 1,000)",
        {"type": "integer", "minimum": 1, "maximum": 100_000},
    ),
    _query("offset", "rows to skip", {"type": "integer", "minimum": 0, "maximum": 1_000_000_000}),
]
BAG_QUERY = [_query(k, f"only bags of this {k}") for k in ("hotel_id", "flight_id", "pilgrim_id")]
ALERT_QUERY = [
    _query("status", "open or resolved", {"type": "string", "enum": ["open", "resolved"]}),
    _query("type", "alert types, comma-separated", STR),
    *[
        _query(k, f"only alerts about this {k}")
        for k in ("tag", "pilgrim_id", "flight_id", "hotel_id", "vehicle_id")
    ],
]
TIME_RANGE = [
    _query("from", "fixes at or after (RFC 3339)", TIME),
    _query("to", "fixes at or before (RFC 3339)", TIME),
]


def _get(
    summary: str,
    ok: Schema,
    parameters: list[Schema] | None = None,
    errors: tuple[str, ...] = ("401", "403"),
) -> Schema:
    return {
        "get": {
            "summary": summary,
            "parameters": parameters or [],
            "responses": {"200": ok, **{code: ERRORS[code] for code in errors}},
        }
    }


def _csv(summary: str, parameters: list[Schema]) -> Schema:
    ok = {"description": "CSV, streamed (header row first)", "content": CSV}
    return _get(summary, ok, parameters, ("400", "401", "403"))


PATHS: Final[dict[str, Schema]] = {
    "/api/events": {
        "post": {
            "summary": "Send events: a JSON array, or JSON Lines (devices, airports)",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"type": "array", "items": EVENT}},
                    "application/x-ndjson": {"schema": STR},
                },
            },
            "responses": {
                "202": _ok(
                    _object(
                        {
                            "accepted": INT,
                            "rejected": {
                                "type": "array",
                                "description": "the first 100 rejected items",
                                "items": _object({"index": INT, "error": STR}),
                            },
                        },
                        {"rejected_total": INT},
                    ),
                    "Taken: what was accepted, and why the others were rejected",
                ),
                "400": ERRORS["400"],
                "401": ERRORS["401"],
                "403": ERRORS["403"],
                "413": _error("Body over 10 MiB or 10,000 events: nothing taken"),
            },
        }
    },
    "/api/bags": _get(
        "Every bag, in tag order",
        _ok(_paged("bags", BAG)),
        PAGING + BAG_QUERY,
        ("400", "401", "403"),
    ),
    "/api/bags/{tag}": _get(
        "A bag: stage, location, history, alerts",
        _ok(BAG_DETAIL),
        [_path("tag", "10-digit bag tag number")],
        ("401", "403", "404"),
    ),
    "/api/summary": _get("Bags by stage, events, open alerts, clock", _ok(SUMMARY)),
    "/api/dead-letters": _get(
        "Bad input kept with the reason",
        _ok(
            _paged(
                "items",
                _object({"received_at": TIME, "reason": STR, "raw": STR}),
            )
        ),
        PAGING,
        ("400", "401", "403"),
    ),
    "/api/pilgrims": _get(
        "The ids of the pilgrims registered with a passport number (found by its keyed hash;"
        " the number itself is never stored)",
        _ok(_object({"pilgrim_ids": {"type": "array", "items": STR}})),
        [{**_query("passport_no", "the passport number (1 to 64 characters)"), "required": True}],
        ("400", "401", "403"),
    ),
    "/api/pilgrims/{pilgrim_id}": _get(
        "A pilgrim and their bags (never a passport number)",
        _ok(PILGRIM),
        [_path("pilgrim_id", "pilgrim id")],
        ("401", "403", "404"),
    ),
    "/api/flights/{flight_id}": _get(
        "A flight's reconciliation",
        _ok(FLIGHT),
        [_path("flight_id", "canonical flight id, e.g. SV5123-2026-05-18")],
        ("401", "403", "404"),
    ),
    "/api/hotels/{hotel_id}/bags": _get(
        "A hotel's expected and delivered bags",
        _ok(HOTEL_BAGS),
        [_path("hotel_id", "hotel id"), *PAGING],
        ("400", "401", "403"),
    ),
    "/api/hotels/{hotel_id}/forecast": _get(
        "When the hotel's last expected bag should arrive (docs/contract-extensions.md)",
        _ok(HOTEL_FORECAST),
        [_path("hotel_id", "hotel id")],
        ("401", "403"),
    ),
    "/api/hotels/{hotel_id}/notices": _get(
        "A hotel's notices, newest first, with their delivery state",
        _ok(_paged("notices", NOTICE, hotel_id=STR)),
        [_path("hotel_id", "hotel id"), *PAGING],
        ("400", "401", "403"),
    ),
    "/api/hotels/{hotel_id}/webhook": {
        "put": {
            "summary": "Where the hotel's notices are delivered (signed webhooks)",
            "parameters": [_path("hotel_id", "hotel id")],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": _object(
                            {"url": {"type": "string", "format": "uri"}, "secret": STR}
                        )
                    }
                },
            },
            "responses": {
                "200": _ok(_object({"hotel_id": STR, "url": STR})),
                **{code: ERRORS[code] for code in ("400", "401", "403")},
            },
        }
    },
    "/api/pilgrims/{pilgrim_id}/link": {
        **_get(
            "A new link to the pilgrim's page (docs/pages.md); each call issues another",
            _ok(_object({"pilgrim_id": STR, "url": {"type": "string", "format": "uri"}})),
            [_path("pilgrim_id", "pilgrim id")],
            ("401", "403", "404"),
        ),
        "delete": {
            "summary": "Revoke every link to the pilgrim's page, at once",
            "parameters": [_path("pilgrim_id", "pilgrim id")],
            "responses": {
                "200": _ok(_object({"pilgrim_id": STR, "revoked": {"type": "integer"}})),
                **{code: ERRORS[code] for code in ("401", "403")},
            },
        },
    },
    "/api/pilgrims/{pilgrim_id}/labels": _get(
        "Each of the pilgrim's bags' label as SVG (the name for operators only)",
        _ok(_object({"pilgrim_id": STR, "labels": {"type": "array", "items": {"type": "object"}}})),
        [
            _path("pilgrim_id", "pilgrim id"),
            _query("lang", "caption language", {"type": "string", "enum": ["en", "ar"]}),
        ],
        ("400", "401", "403", "404"),
    ),
    "/api/scan/{tag}": _get(
        "What the handheld counter shows for a tag: its route label and open alerts",
        _ok(
            _object(
                {
                    "known": {"type": "boolean"},
                    "label": {"type": ["object", "null"]},
                    "alerts": {"type": "array", "items": {"type": "object"}},
                }
            )
        ),
        [_path("tag", "10-digit bag tag number")],
        ("400", "401", "403", "404"),
    ),
    "/api/search": _get(
        "Forgiving search: case-insensitive prefixes of tags (spaces ignored), pilgrims, groups,"
        " flights, hotels and vehicles",
        _ok(_object({"q": STR, "results": {"type": "array", "items": {"type": "object"}}})),
        [{**_query("q", "what to look for (1 to 100 characters)"), "required": True}],
        ("400", "401", "403"),
    ),
    "/api/groups/{group_id}": _get(
        "A group's pilgrims",
        _ok(_object({"group_id": STR, "pilgrims": {"type": "array", "items": {"type": "object"}}})),
        [_path("group_id", "group id")],
        ("401", "403", "404"),
    ),
    "/api/alerts/{alert_id}/triage": {
        "post": {
            "summary": "Acknowledge, assign or annotate an alert (kept, and sent on the feed)",
            "parameters": [_path("alert_id", "alert id")],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "acknowledged": {"type": "boolean"},
                                "assignee": {"type": ["string", "null"]},
                                "note": {"type": ["string", "null"]},
                            },
                        }
                    }
                },
            },
            "responses": {
                "200": _ok({"type": "object"}),
                **{code: ERRORS[code] for code in ("400", "401", "403", "404")},
            },
        }
    },
    "/api/hotels/{hotel_id}/bags/{tag}/confirm": {
        "post": {
            "summary": "The hotel confirms it received its own bag",
            "parameters": [_path("hotel_id", "hotel id"), _path("tag", "10-digit tag")],
            "requestBody": {
                "required": False,
                "content": {
                    "application/json": {
                        "schema": {"type": "object", "properties": {"note": {"type": "string"}}}
                    }
                },
            },
            "responses": {
                "200": _ok(_object({"hotel_id": STR, "tag": STR, "confirmed_at": STR})),
                **{code: ERRORS[code] for code in ("400", "401", "403", "404")},
            },
        }
    },
    "/api/hotels/{hotel_id}/bags/{tag}/report-wrong": {
        "post": {
            "summary": "The hotel reports a bag that is not its own",
            "parameters": [_path("hotel_id", "hotel id"), _path("tag", "10-digit tag")],
            "requestBody": {
                "required": False,
                "content": {
                    "application/json": {
                        "schema": {"type": "object", "properties": {"note": {"type": "string"}}}
                    }
                },
            },
            "responses": {
                "202": _ok(
                    _object(
                        {
                            "hotel_id": STR,
                            "tag": STR,
                            "reported_wrong_at": STR,
                            "known": {"type": "boolean"},
                            "belongs_to": {"type": ["string", "null"]},
                        }
                    ),
                    "Reported",
                ),
                **{code: ERRORS[code] for code in ("400", "401", "403", "409")},
            },
        }
    },
    "/api/alerts": _get(
        "Alerts, newest first",
        _ok(_paged("alerts", ALERT)),
        ALERT_QUERY + PAGING,
        ("400", "401", "403"),
    ),
    "/api/trucks/plan": _get(
        "Trucks for the bags sorted at an airport and not yet loaded",
        _ok(
            _object(
                {"airport": STR, "capacity": INT, "bags_waiting": INT, "trucks": {"type": "array"}}
            )
        ),
        [
            _query("airport", "JED or MED", {"type": "string", "enum": ["JED", "MED"]}),
            _query("capacity", "bags per truck", {"type": "integer", "minimum": 1}),
        ],
        ("400", "401", "403"),
    ),
    "/api/vehicles/{vehicle_id}/track": _get(
        "A vehicle's past fixes in event time",
        _ok(TRACK),
        [_path("vehicle_id", "vehicle id"), *TIME_RANGE],
        ("400", "401", "403", "404"),
    ),
    "/api/replay": _get(
        "The map, counters and open alerts as they were at an event time (replay)",
        _ok(REPLAY),
        [
            {
                **_query("at", "the event time (RFC 3339 with an offset)", TIME),
                "required": True,
            }
        ],
        ("400", "401", "403"),
    ),
    "/api/vehicles/{vehicle_id}/track.geojson": _get(
        "A vehicle's track as GeoJSON (a LineString and a Point per fix)",
        {
            "description": "A GeoJSON FeatureCollection",
            "content": {"application/geo+json": {"schema": {"type": "object"}}},
        },
        [_path("vehicle_id", "vehicle id"), *TIME_RANGE],
        ("400", "401", "403", "404"),
    ),
    "/api/export/bags.csv": _csv("Bags as CSV (filters as /api/bags)", BAG_QUERY),
    "/api/export/alerts.csv": _csv("Alerts as CSV (filters as /api/alerts)", ALERT_QUERY),
    "/api/export/notices.csv": _csv(
        "Hotel notices as CSV (a hotel token: its own)", [_query("hotel_id", "one hotel's")]
    ),
}


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Tariq API",
            "version": "1.1",
            "description": "Live baggage tracking for Makkah Route pilgrims (contract v1.1). "
            "Every error under /api/ is a JSON object {error}.",
        },
        "servers": [{"url": "/"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": ERROR, "Alert": ALERT, "Bag": BAG},
        },
        "security": [{"bearer": []}],
        "paths": _with_bad_request(PATHS),
    }


# Any request whose path or query holds a control character is a 400 before it reaches a
# handler (dashboards/headers.py), so every operation may answer 400.
_CONTROL_400: Final = _error("Bad request (a bad parameter, body, or a control character)")


def _with_bad_request(paths: dict[str, Schema]) -> dict[str, Schema]:
    return {
        path: {
            method: {
                **operation,
                "responses": {"400": _CONTROL_400, **operation["responses"]},
            }
            for method, operation in item.items()
        }
        for path, item in paths.items()
    }


async def get_openapi(request: web.Request) -> web.Response:
    return json_response(document())


async def docs_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(DOCS_PAGE)


def is_api(request: web.Request) -> bool:
    return request.path.startswith("/api/")


def api_error(exc: web.HTTPException) -> web.Response | None:
    """Under `/api/`, every error is a JSON `{error}`: an unknown path (404) or a wrong
    method (405, with `Allow`) as JSON; None for an exception that is not an error or is
    JSON already."""
    if exc.status < 400 or exc.content_type == "application/json":
        return None
    response = error(exc.status, (exc.reason or "error").lower())
    if "Allow" in exc.headers:
        response.headers["Allow"] = exc.headers["Allow"]
    return response


def internal_error(request: web.Request) -> web.Response:
    """An unexpected failure under `/api/`: logged; the caller sees no detail."""
    log.exception("unexpected error serving %s %s", request.method, request.path)
    return error(500, "internal error")
