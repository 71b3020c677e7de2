"""Bearer-token authentication and role checks (contract section 3), the websockets'
`Origin` check, and the log filter that keeps tokens out of every log line."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps

from aiohttp import web
from yarl import URL

from dashboards.keys import PRINCIPAL, VERIFIER
from dashboards.responses import error
from tariq.domain.tokens import Principal

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


# Paths outside `/api/` that need a bearer token.
BEARER_PATHS = frozenset({"/geo/hotels.geojson"})


def _is_bus_data(path: str) -> bool:
    """`/bus/{vehicle_id}/data`: the in-bus screen's content (the page itself needs none)."""
    return path.startswith("/bus/") and path.endswith("/data")


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The one place tokens are verified, 401 without a valid one: a bearer header for every
    `/api/` path and the paths in BEARER_PATHS; the `token` query parameter for every `/ws/`
    path (browsers cannot set headers on a websocket). Handlers check the role with `allow`.
    """
    path = request.path
    if path.startswith("/api/") or path in BEARER_PATHS or _is_bus_data(path):
        token, problem = bearer_token(request), "missing or invalid bearer token"
    elif path.startswith("/ws/"):
        token, problem = request.query.get("token"), "missing or invalid token"
    else:
        return await handler(request)
    principal = await request.app[VERIFIER].verify(token)
    if principal is None:
        return error(401, problem)
    request[PRINCIPAL] = principal
    return await handler(request)


def allow(*roles: str, message: str | None = None) -> Callable[[Handler], Handler]:
    """Only these roles may call the handler: 403 (with `message`) for the others. The
    handler's path must be one `authenticate` verifies a token for."""
    refusal = message or f"this needs the role {' or '.join(roles)}"

    def decorate(handler: Handler) -> Handler:
        @wraps(handler)
        async def checked(request: web.Request) -> web.StreamResponse:
            principal = request.get(PRINCIPAL)
            if principal is None:
                return error(401, "missing or invalid token")
            if principal.role not in roles:
                return error(403, refusal)
            return await handler(request)

        return checked

    return decorate


def may_see_hotel(principal: Principal, hotel_id: str | None) -> bool:
    return principal.role == "operator" or (
        principal.role == "hotel" and hotel_id is not None and principal.hotel_id == hotel_id
    )


def same_origin(request: web.Request) -> bool:
    """A websocket's `Origin` names this server, or is absent (a non-browser client, which no
    page can make act for a user); `null` and any other origin are foreign.

    "This server" is the host of the request's `Host` header, and its port when the header
    names one. The scheme is not compared: behind a TLS-terminating proxy the page is https
    while the request reaching the service is http."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    try:
        theirs = URL(origin)
        ours = URL(f"http://{request.host}")
    except ValueError:
        return False
    if not theirs.host or not ours.host or theirs.host.lower() != ours.host.lower():
        return False
    return ours.explicit_port is None or theirs.port == ours.explicit_port
