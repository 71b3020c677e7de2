"""Alert triage (issue 13, docs/contract-extensions.md): `POST /api/alerts/{alert_id}/triage`
(operator) with a JSON object of any of `acknowledged` (bool), `assignee` (text or null),
`note` (text or null). Kept in PostgreSQL with who (the token) and when; announced on the
live feed (`alert_triage`) to every operator. Alerts listed by the API and the live snapshot
carry their severity (by type and age, tariq/domain/triage.py) and triage."""

from __future__ import annotations

import re
from typing import Any, Final

import asyncpg
import orjson
from aiohttp import web

from dashboards.keys import LIVE, POOL
from dashboards.responses import error, json_response
from dashboards.security import allow, bearer_token
from tariq.adapters.db import reads, triage
from tariq.domain.tokens import hash_token
from tariq.domain.triage import ASSIGNEE_MAX, NOTE_MAX, severity

_CONTROL: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # a note may have line breaks
_FIELDS: Final = {"acknowledged", "assignee", "note"}


async def annotate(conn: asyncpg.Connection, alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The alerts, each with its severity at the service clock and its triage."""
    clock = (await reads.reconciler(conn))["clock"]
    found = await triage.of_alerts(conn, [a["alert_id"] for a in alerts])
    empty = dict.fromkeys(("acknowledged_at", "acknowledged_by", "assignee", "note"))
    out = []
    for a in alerts:
        t = found.get(a["alert_id"], empty)
        sev = severity(a["type"], a["raised_at"], clock) if a["status"] == "open" else None
        out.append({**a, "severity": sev, **{k: t[k] for k in empty}})
    return out


def _text(data: dict[str, Any], key: str, limit: int) -> str | web.Response | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit or _CONTROL.search(value):
        return error(400, f"{key} must be text of at most {limit} characters or null")
    return value.strip() or None


@allow("operator")
async def post_triage(request: web.Request) -> web.Response:
    alert_id = request.match_info["alert_id"]
    try:
        data = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict) or not data or set(data) - _FIELDS:
        return error(400, "send a JSON object with acknowledged, assignee and/or note")
    if "acknowledged" in data and not isinstance(data["acknowledged"], bool):
        return error(400, "acknowledged must be true or false")
    assignee = _text(data, "assignee", ASSIGNEE_MAX)
    note = _text(data, "note", NOTE_MAX)
    for checked in (assignee, note):
        if isinstance(checked, web.Response):
            return checked
    token = bearer_token(request)
    who = hash_token(token)[:16] if token else "unknown"
    fields = {"acknowledge" if k == "acknowledged" else k for k in data}
    async with request.app[POOL].acquire() as conn:
        row = await triage.update(
            conn,
            alert_id,
            who,
            acknowledge=data.get("acknowledged"),
            assignee=assignee if isinstance(assignee, str) else None,
            note=note if isinstance(note, str) else None,
            fields=fields,
        )
    if row is None:
        return error(404, f"no alert {alert_id}")
    await request.app[LIVE].publish_triage(row)
    return json_response(row)


def setup_triage_routes(app: web.Application) -> None:
    app.router.add_post("/api/alerts/{alert_id}/triage", post_triage)
