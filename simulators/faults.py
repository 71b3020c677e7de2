"""Fault kinds the simulator injects, their default rates and the figure each is calibrated on."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Final

# Published figures (domain.md, "What goes wrong").
MISPLACED_PER_100_PILGRIMS: Final = 1.5
MISHANDLED_PER_1000_PASSENGERS: Final = 6.3
# Of mishandled bags worldwide: 74% delayed, 8% lost, 18% damaged; 16% of causes "not loaded".
# Damage leaves no trace in the events, so the simulator models the other 82%.
MODELLED_MISHANDLED_PER_1000: Final = MISHANDLED_PER_1000_PASSENGERS * 0.82
BAGS_PER_PILGRIM: Final = 1.7
# Share of misdelivered bags found and redelivered to the right hotel (2-10 h later).
REDELIVERED_SHARE: Final = 0.5

BAG_FAULTS: Final = ("misdelivered", "left_behind", "late_delivery", "lost", "mislabelled")
EVENT_FAULTS: Final = ("duplicate", "out_of_order", "malformed", "malformed_iata")


@dataclass(frozen=True)
class FaultRates:
    """Probabilities: bag faults per bag, `no_show` per pilgrim, `bus_breakdown` per bus trip,
    event faults per emitted event. Bag faults are exclusive (one fault at most per bag)."""

    # 1.5 misplaced bags per 100 pilgrims, at 1.7 bags per pilgrim.
    misdelivered: float = MISPLACED_PER_100_PILGRIMS / 100 / BAGS_PER_PILGRIM
    # 16% of 6.3 per 1,000 passengers were "not loaded".
    left_behind: float = MISHANDLED_PER_1000_PASSENGERS * 0.16 / 1000 / BAGS_PER_PILGRIM
    # Delayed but not "not loaded": 74% - 16% = 58% of 6.3 per 1,000.
    late_delivery: float = MISHANDLED_PER_1000_PASSENGERS * 0.58 / 1000 / BAGS_PER_PILGRIM
    # Lost: 8% of 6.3 per 1,000.
    lost: float = MISHANDLED_PER_1000_PASSENGERS * 0.08 / 1000 / BAGS_PER_PILGRIM
    # Not published: a label printed with the wrong number (scans name an uncoded tag).
    mislabelled: float = 0.0001
    # Not published ("bags that flew without their owner"): a pilgrim who does not board.
    no_show: float = 0.0005
    # Not published: breakdowns long enough (> 20 min) for a replacement bus.
    bus_breakdown: float = 0.01
    duplicate: float = 0.001
    out_of_order: float = 0.001
    malformed: float = 0.0001
    malformed_iata: float = 0.00003

    def with_overrides(self, overrides: dict[str, float]) -> FaultRates:
        return replace(self, **overrides)

    def as_dict(self) -> dict[str, float]:
        return {f.name: float(getattr(self, f.name)) for f in fields(self)}


FAULT_KINDS: Final = tuple(f.name for f in fields(FaultRates))


def parse_fault_rate(text: str) -> tuple[str, float]:
    """`KIND=RATE` from the command line, e.g. `misdelivered=0.02`."""
    kind, sep, value = text.partition("=")
    if not sep or kind not in FAULT_KINDS:
        raise ValueError(f"expected KIND=RATE with KIND one of {', '.join(FAULT_KINDS)}: {text!r}")
    rate = float(value)
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"a rate is a probability between 0 and 1: {text!r}")
    return kind, rate
