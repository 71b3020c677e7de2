"""Hotel notices as values (contract section 5), pure: the `Notice` type, its stable
`notice_id`, the canonical body, the signature and the retry schedule.

The outbox is in `tariq/adapters/db/outbox.py`; delivery in `stream/delivery.py`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal

import orjson

NoticeKind = Literal["bags_en_route", "bags_delivered", "eta_changed"]
NOTICE_KINDS: Final[tuple[NoticeKind, ...]] = ("bags_en_route", "bags_delivered", "eta_changed")
SIGNATURE_HEADER: Final = "X-Tariq-Signature"
NOTICE_ID_HEADER: Final = "X-Tariq-Notice-Id"
_SIGNATURE_PREFIX: Final = "sha256="
# Sorted keys and `Z` times: the same notice always encodes to the same bytes.
_BODY_OPTIONS: Final = orjson.OPT_SORT_KEYS | orjson.OPT_UTC_Z


@dataclass(frozen=True, slots=True)
class Notice:
    """One notice to one hotel. `occurred_at` is the event time of what caused it (the truck
    leaving the airport, the fix its new ETA was planned from, or the delivery scan); `eta`
    for `bags_en_route` and `eta_changed`; `previous_eta` (the ETA the hotel was told
    before) only for `eta_changed`."""

    notice_id: str
    hotel_id: str
    kind: NoticeKind
    vehicle_id: str | None
    tags: tuple[str, ...]
    eta: datetime | None
    occurred_at: datetime
    previous_eta: datetime | None = None

    def __post_init__(self) -> None:
        if self.kind not in NOTICE_KINDS:
            raise ValueError(f"kind must be one of {', '.join(NOTICE_KINDS)}, not {self.kind!r}")
        for name in ("eta", "occurred_at", "previous_eta"):
            moment = getattr(self, name)
            if moment is not None and moment.utcoffset() is None:
                raise ValueError(f"{name} must carry a UTC offset")


def notice_id(
    kind: NoticeKind,
    hotel_id: str,
    vehicle_id: str | None,
    causes: Iterable[str],
    tags: Iterable[str],
) -> str:
    """A stable id from what caused the notice: the same kind, hotel, vehicle, causes (a trip
    id, or the ids of the triggering events) and tags give the same id, in any order and
    however often the events are processed. ETA and times are left out on purpose: they do
    not make a notice a different one."""
    identity = orjson.dumps(
        [kind, hotel_id, vehicle_id or "", sorted(set(causes)), sorted(set(tags))]
    )
    return "ntc_" + hashlib.sha256(identity).hexdigest()[:32]


def bags_en_route(
    *,
    hotel_id: str,
    vehicle_id: str,
    trip_id: str,
    tags: Iterable[str],
    eta: datetime | None,
    occurred_at: datetime,
) -> Notice:
    """The truck `vehicle_id` left the arrival airport on trip `trip_id` (its departure) with
    these bags. One notice per trip and hotel: its id leaves the tags out, so a bag whose
    loading is processed late never makes a second, partial notice of the same departure."""
    sorted_tags = tuple(sorted(set(tags)))
    return Notice(
        notice_id("bags_en_route", hotel_id, vehicle_id, [trip_id], ()),
        hotel_id,
        "bags_en_route",
        vehicle_id,
        sorted_tags,
        eta,
        occurred_at,
    )


def bags_delivered(
    *,
    hotel_id: str,
    tags: Iterable[str],
    event_ids: Iterable[str],
    occurred_at: datetime,
    vehicle_id: str | None = None,
) -> Notice:
    """These bags were delivered to the hotel; `event_ids` are the `delivered` scans' ids."""
    sorted_tags = tuple(sorted(set(tags)))
    return Notice(
        notice_id("bags_delivered", hotel_id, vehicle_id, event_ids, sorted_tags),
        hotel_id,
        "bags_delivered",
        vehicle_id,
        sorted_tags,
        None,
        occurred_at,
    )


def eta_changed(
    *,
    hotel_id: str,
    vehicle_id: str,
    trip_id: str,
    tags: Iterable[str],
    eta: datetime,
    previous_eta: datetime,
    occurred_at: datetime,
) -> Notice:
    """The truck's ETA at the hotel on trip `trip_id` moved from `previous_eta` to `eta`
    (by ETA_CHANGE or more). One notice per new ETA of the trip."""
    sorted_tags = tuple(sorted(set(tags)))
    return Notice(
        notice_id("eta_changed", hotel_id, vehicle_id, [trip_id, eta.isoformat()], ()),
        hotel_id,
        "eta_changed",
        vehicle_id,
        sorted_tags,
        eta,
        occurred_at,
        previous_eta,
    )


# A trip's ETA for a hotel must move by this much for an `eta_changed` notice.
ETA_CHANGE: Final = timedelta(minutes=10)


def notice_as_dict(notice: Notice) -> dict[str, Any]:
    body: dict[str, Any] = {
        "notice_id": notice.notice_id,
        "hotel_id": notice.hotel_id,
        "kind": notice.kind,
        "vehicle_id": notice.vehicle_id,
        "tags": list(notice.tags),
        "eta": notice.eta,
        "occurred_at": notice.occurred_at,
    }
    if notice.kind == "eta_changed":
        body["previous_eta"] = notice.previous_eta
    return body


def encode_body(notice: Notice) -> bytes:
    """The exact bytes POSTed (and signed): compact JSON with sorted keys."""
    return orjson.dumps(notice_as_dict(notice), option=_BODY_OPTIONS)


def sign(body: bytes, secret: str) -> str:
    """The `X-Tariq-Signature` value: `sha256=<hex HMAC-SHA256 of body keyed by secret>`."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return _SIGNATURE_PREFIX + digest


def verify(body: bytes, secret: str, header: str | None) -> bool:
    """Whether `header` is the signature of `body` with `secret` (constant-time compare)."""
    if not header:
        return False
    expected = sign(body, secret).encode()
    return hmac.compare_digest(expected, header.strip().encode("utf-8", "replace"))


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    """Exponential backoff with jitter and a cap: after the n-th failed attempt the next
    comes `min(cap, first * factor**(n-1))` later, less up to `jitter` of that at random, so
    that hotels' retries after an outage spread out instead of arriving together."""

    first_s: float = 1.0
    factor: float = 2.0
    cap_s: float = 300.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.first_s <= 0 or self.cap_s < self.first_s:
            raise ValueError("need 0 < first_s <= cap_s")
        if self.factor < 1:
            raise ValueError("factor must be at least 1")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")

    def delay(self, failures: int, rand: float) -> float:
        """Seconds to wait after `failures` failed attempts (>= 1); `rand` in [0, 1)."""
        if failures < 1:
            raise ValueError("failures must be at least 1")
        # The exponent is bounded so that a long outage never overflows a float.
        base = min(self.cap_s, self.first_s * self.factor ** min(failures - 1, 64))
        return base * (1.0 - self.jitter * rand)


DEFAULT_SCHEDULE: Final = RetrySchedule()
# For tests and local runs: retries within tens of milliseconds.
FAST_SCHEDULE: Final = RetrySchedule(first_s=0.01, factor=2.0, cap_s=0.05, jitter=0.0)
