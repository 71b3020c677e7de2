"""The flight view's bag counts (tariq/adapters/db/reads.py `bags_reached`, pure)."""

from __future__ import annotations

from tariq.adapters.db.reads import bags_reached
from tariq.domain.events import STAGES


def test_bags_reached_counts_each_stage_and_those_beyond() -> None:
    by_stage = dict.fromkeys(STAGES, 0) | {"coded": 2, "loaded": 3, "delivered": 1, "claimed": 4}
    reached = bags_reached(by_stage)
    assert reached["coded"] == 10 and reached["accepted"] == 8 and reached["loaded"] == 8
    assert reached["offloaded"] == 5 and reached["delivered"] == 5 and reached["claimed"] == 4
    assert list(reached) == list(STAGES)
