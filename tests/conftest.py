"""Shared test settings."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

# The suite shares two cores with a broker, PostgreSQL and Redis: judge properties, not
# how fast the machine happens to be.
settings.register_profile(
    "tariq", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("tariq")
