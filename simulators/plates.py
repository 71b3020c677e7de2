"""Bag tag numbers for the simulator (a seam: `tagging/` will provide the real ones).

A license plate is 10 digits: leading digit 0 (normal), the airline's 3-digit numeric code,
and a 6-digit serial. Makkah Route bags are labelled under Saudia (065). A season needs fewer
than a million bags, so 065 suffices at full scale; if a scenario is bigger, the overflow is
labelled under the departure country's national carrier (one more million each), and beyond
that the allocator refuses rather than repeat a tag.
"""

from __future__ import annotations

from typing import Final

SAUDIA_CODE: Final = "065"
SERIALS_PER_AIRLINE: Final = 1_000_000


class LicensePlates:
    """Hands out unique tag numbers for one scenario, in a deterministic order."""

    def __init__(self) -> None:
        self._next_serial: dict[str, int] = {}

    def next_tag(self, overflow_airline_code: str) -> str:
        """A new 10-digit tag: Saudia's code first, then the given national carrier's."""
        for code in (SAUDIA_CODE, overflow_airline_code):
            serial = self._next_serial.get(code, 0)
            if serial < SERIALS_PER_AIRLINE:
                self._next_serial[code] = serial + 1
                return f"0{code}{serial:06d}"
        raise OverflowError(
            f"more than {SERIALS_PER_AIRLINE:,} tags under both 065 and {overflow_airline_code}"
        )

    @property
    def issued(self) -> int:
        return sum(self._next_serial.values())
