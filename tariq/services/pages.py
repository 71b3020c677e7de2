"""Settings of the public pages, from the environment (documented in the README)."""

from __future__ import annotations

import os

from tariq.domain.links import page_url


def public_base_url(fallback: str) -> str:
    """Where pilgrims reach the service (`TARIQ_PUBLIC_URL`, e.g. https://bags.example.org);
    `fallback` (the address the request came to, or the listening address) when unset."""
    return (os.environ.get("TARIQ_PUBLIC_URL") or fallback).rstrip("/")


def pilgrim_page_url(fallback: str, link: str) -> str:
    return page_url(public_base_url(fallback), link)


def help_phone() -> str | None:
    """The number a pilgrim calls about a missing bag (`TARIQ_HELP_PHONE`), if configured."""
    value = os.environ.get("TARIQ_HELP_PHONE", "").strip()
    return value[:40] or None


def page_rate_per_minute() -> int:
    """Requests a minute per client address to `/p/…` (`TARIQ_PAGE_RATE`, default 60)."""
    value = os.environ.get("TARIQ_PAGE_RATE", "")
    try:
        return max(1, int(value)) if value else 60
    except ValueError:
        raise SystemExit(f"TARIQ_PAGE_RATE must be a whole number, not {value!r}") from None
