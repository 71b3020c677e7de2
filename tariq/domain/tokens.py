"""API tokens: random bearer tokens with a role, stored only as SHA-256 hashes.

A token has a short public id (the first 12 hex digits of its hash: listing and revoking
name it, it reveals nothing usable about the secret), an optional expiry, and, for a device
token, an optional vehicle it is bound to (contract v1.1 sections 3 and 6).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Final, Literal

from tariq.domain.events import AnyEvent, VehiclePosition

Role = Literal["operator", "hotel", "device"]
ROLES: Final[tuple[Role, ...]] = ("operator", "hotel", "device")
TOKEN_ID_CHARS: Final = 12
MAX_LIFETIME: Final = timedelta(days=3660)
_DURATION = re.compile(r"(\d{1,7})([smhdw])")
_UNIT_SECONDS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


@dataclass(frozen=True, slots=True)
class Principal:
    role: Role
    hotel_id: str | None = None
    # A device token may be bound to one vehicle (contract v1.1 section 3).
    vehicle_id: str | None = None
    # The token's public id: what caps and logs name (never the secret).
    token_id: str = ""


def new_token() -> str:
    return "tq_" + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_id_of(token_hash: str) -> str:
    return token_hash[:TOKEN_ID_CHARS]


def check_role(role: str, hotel_id: str | None, vehicle_id: str | None = None) -> None:
    """Raise ValueError unless (role, hotel, vehicle) make a valid token."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if (role == "hotel") != (hotel_id is not None):
        raise ValueError("a hotel token needs --hotel ID, and only a hotel token takes one")
    if vehicle_id is not None and role != "device":
        raise ValueError("only a device token can be bound to a vehicle (--vehicle ID)")
    for name, value in (("hotel", hotel_id), ("vehicle", vehicle_id)):
        if value is not None and not 1 <= len(value) <= 64:
            raise ValueError(f"a {name} id has 1 to 64 characters")


def parse_lifetime(text: str) -> timedelta:
    """`--expires`: a whole number and a unit, `30d`, `12h`, `90m`, `2w`, `45s`."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"expiry must look like 30d, 12h, 90m, 2w or 45s, not {text!r}")
    lifetime = timedelta(seconds=int(match[1]) * _UNIT_SECONDS[match[2]])
    if not timedelta(0) < lifetime <= MAX_LIFETIME:
        raise ValueError("expiry must be more than 0 and at most 3660 days")
    return lifetime


def may_post(principal: Principal, event: AnyEvent) -> str | None:
    """Why this principal may not post this event, or None when it may. A device token
    bound to a vehicle posts only that vehicle's positions; other tokens that may post at
    all (the role check is the handler's) post any event."""
    bound = principal.vehicle_id
    if bound is None:
        return None
    if not isinstance(event, VehiclePosition):
        return f"a token bound to vehicle {bound} may post only vehicle.position events"
    if event.vehicle_id != bound:
        return f"a token bound to vehicle {bound} may not post another vehicle's position"
    return None


def may_read_bus(principal: Principal, vehicle_id: str) -> bool:
    """The in-bus feed `/ws/bus/{vehicle_id}`: an operator, or a device token bound to that
    vehicle (contract section 7)."""
    if principal.role == "operator":
        return True
    return principal.role == "device" and principal.vehicle_id == vehicle_id
