"""Outages of the service's dependencies: which errors mean "PostgreSQL, Redis or the
broker is down for now" (as opposed to a bug), a retry with backoff for them, and a log
that says when a dependency went down and when it came back, once per change, not per
retry. Used by the worker (stream/) and the web server (dashboards/) alike."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

import asyncpg
import redis.exceptions
from aiokafka import errors as kafka_errors

DATABASE: Final = "database"
REDIS: Final = "redis"
BROKER: Final = "broker"
_T = TypeVar("_T")

_KAFKA_DOWN: Final = (
    kafka_errors.KafkaConnectionError,
    kafka_errors.NodeNotReadyError,
    kafka_errors.RequestTimedOutError,
    kafka_errors.KafkaTimeoutError,
    kafka_errors.NotLeaderForPartitionError,
    kafka_errors.LeaderNotAvailableError,
)


def dependency_down(exc: BaseException, *, plain: str = DATABASE) -> str | None:
    """The dependency an error says is unreachable, or None if it is not an outage.
    A plain OSError/TimeoutError (asyncpg raises them while connecting) is named `plain`."""
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return REDIS
    if isinstance(
        exc,
        asyncpg.PostgresConnectionError
        | asyncpg.CannotConnectNowError
        | asyncpg.AdminShutdownError
        | asyncpg.exceptions.CrashShutdownError,
    ):
        return DATABASE
    # A connection cut in the middle of an operation (a server restart) leaves asyncpg in
    # states it reports as interface or internal client errors.
    if isinstance(exc, asyncpg.InterfaceError | asyncpg.exceptions._base.InternalClientError):
        return DATABASE
    if isinstance(exc, _KAFKA_DOWN):
        return BROKER
    if isinstance(exc, OSError | TimeoutError):
        return plain
    return None


class OutageLog:
    """What is down now, logged when it goes down and when it is back (not per retry)."""

    def __init__(self, log: logging.Logger, who: str) -> None:
        self.log = log
        self.who = who
        self._since: dict[str, float] = {}

    @property
    def down(self) -> list[str]:
        return sorted(self._since)

    def failed(self, dependency: str, exc: BaseException) -> None:
        if dependency in self._since:
            return
        self._since[dependency] = time.monotonic()
        self.log.warning(
            "%s: %s is unreachable (%s); retrying with backoff until it is back",
            self.who,
            dependency,
            type(exc).__name__,
        )

    def recovered(self, *dependencies: str) -> None:
        for dependency in dependencies or tuple(self._since):
            since = self._since.pop(dependency, None)
            if since is not None:
                self.log.warning(
                    "%s: %s is back after %.1f s", self.who, dependency, time.monotonic() - since
                )


async def retry_while_down(
    call: Callable[[], Awaitable[_T]],
    outages: OutageLog,
    *,
    plain: str = DATABASE,
    first_delay_s: float = 0.1,
    max_delay_s: float = 5.0,
) -> _T:
    """Run `call` until it succeeds, waiting (0.1 s doubling to 5 s) while a dependency is
    down; any other error is raised at once."""
    delay = first_delay_s
    failed: set[str] = set()
    while True:
        try:
            result = await call()
        except Exception as exc:
            dependency = dependency_down(exc, plain=plain)
            if dependency is None:
                raise
            failed.add(dependency)
            outages.failed(dependency, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay_s)
            continue
        if failed:
            outages.recovered(*failed)
        return result
