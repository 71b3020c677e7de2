"""Bearer-token authentication and role checks (contract section 3)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps

from aiohttp import web

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


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every `/api/` path needs a valid bearer token: 401 without one."""
    if request.path.startswith("/api/"):
        principal = await request.app[VERIFIER].verify(bearer_token(request))
        if principal is None:
            return error(401, "missing or invalid bearer token")
        request[PRINCIPAL] = principal
    return await handler(request)


def allow(*roles: str) -> Callable[[Handler], Handler]:
    """Only these roles may call the handler: 403 for the others."""

    def decorate(handler: Handler) -> Handler:
        @wraps(handler)
        async def checked(request: web.Request) -> web.StreamResponse:
            if request[PRINCIPAL].role not in roles:
                return error(403, f"this needs the role {' or '.join(roles)}")
            return await handler(request)

        return checked

    return decorate


def may_see_hotel(principal: Principal, hotel_id: str | None) -> bool:
    return principal.role == "operator" or (
        principal.role == "hotel" and hotel_id is not None and principal.hotel_id == hotel_id
    )
