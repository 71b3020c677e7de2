"""API tokens: random bearer tokens with a role, stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Final, Literal

Role = Literal["operator", "hotel", "device"]
ROLES: Final[tuple[Role, ...]] = ("operator", "hotel", "device")


@dataclass(frozen=True, slots=True)
class Principal:
    role: Role
    hotel_id: str | None = None
    # A device token may be bound to one vehicle (contract v1.1 section 3).
    vehicle_id: str | None = None


def new_token() -> str:
    return "tq_" + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_role(role: str, hotel_id: str | None) -> None:
    """Raise ValueError unless (role, hotel) make a valid token."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if (role == "hotel") != (hotel_id is not None):
        raise ValueError("a hotel token needs --hotel ID, and only a hotel token takes one")
