"""Benchmark of BSM parsing on one core: `python -m tagging.bench [--seconds S]`.

Not a test: it prints messages per second for parsing alone and for parse + translate.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from datetime import date

from tagging.iata import build_message, coded_bsm, parse_messages, translate
from tagging.tags import make_tag


def sample_bsms(count: int, seed: int = 7) -> list[str]:
    """Realistic Makkah Route BSMs: 1–3 tags, weight, name, coding."""
    rng = random.Random(seed)
    stations = ("CGK", "SUB", "SOC", "ISB", "KHI", "KUL", "DAC", "CMN", "IST", "ABJ", "MLE")
    texts = []
    for index in range(count):
        message = coded_bsm(
            make_tag("065", rng.randrange(0, 999_000)),
            station=rng.choice(stations),
            flight=f"SV{rng.randrange(5000, 5999)}",
            flight_date=date(2026, 5, rng.randrange(1, 28)),
            destination=rng.choice(("JED", "MED")),
            hotel_id=f"H-MAK-{rng.randrange(3500):04d}",
            pilgrim_id=f"P{index:07d}",
            count=rng.choice((1, 1, 2, 3)),
            surname=rng.choice(("AHMED", "RAHMAN", "SANTOSO", "YILMAZ", "DIALLO")),
            pieces=2,
            weight_kg=rng.randrange(20, 46),
        )
        texts.append(build_message(message))
    return texts


def _rate(work: Callable[[str], object], texts: list[str], seconds: float) -> float:
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for text in texts:
            work(text)
        done += len(texts)
    return done / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    texts = sample_bsms(2_000)
    parse_rate = _rate(parse_messages, texts, args.seconds)
    translate_rate = _rate(
        lambda text: translate(text, occurred_at="2026-05-18T04:10:00Z"), texts, args.seconds
    )
    print(f"BSM parse:             {parse_rate:,.0f} messages/s (one core)")
    print(f"BSM parse + translate: {translate_rate:,.0f} messages/s (one core)")


if __name__ == "__main__":
    main()
