"""Pilgrim page links (contract section 7): unguessable, stored hashed, revocable.

A link is 192 random bits (≥ 128 as the contract asks), written in URL-safe base64. Like API
tokens it is kept only as a SHA-256 hash: reading the database does not give out links.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Final

LINK_BYTES: Final = 24  # 192 bits
LINK_PATTERN: Final = re.compile(r"[A-Za-z0-9_-]{32}")
PAGE_PREFIX: Final = "/p/"


def new_link() -> str:
    return secrets.token_urlsafe(LINK_BYTES)


def is_link(text: str) -> bool:
    return LINK_PATTERN.fullmatch(text) is not None


def hash_link(link: str) -> str:
    return hashlib.sha256(link.encode()).hexdigest()


def page_url(base_url: str, link: str) -> str:
    return base_url.rstrip("/") + PAGE_PREFIX + link
