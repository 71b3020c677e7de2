"""Group commit of the web intake's sends (`SharedSends`), against a fake send."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tariq.adapters.kafka import Messages, SharedSends


class FakeSend:
    """Records each call's messages; waits for `release` before answering; fails a call
    that holds a message whose value is b"bad"."""

    def __init__(self) -> None:
        self.calls: list[list[bytes]] = []
        self.release = asyncio.Event()
        self.started = asyncio.Event()

    async def __call__(self, items: Messages) -> None:
        self.calls.append([value for _, value in items])
        self.started.set()
        await self.release.wait()
        if any(value == b"bad" for _, value in items):
            raise ValueError("a bad message")


def messages(*values: bytes) -> Messages:
    return [(b"BAG", value) for value in values]


async def test_calls_that_arrive_while_a_group_is_sent_go_out_together_in_order() -> None:
    send = FakeSend()
    shared = SharedSends(send)
    first = asyncio.create_task(shared.send_many(messages(b"a")))
    await send.started.wait()
    later = [
        asyncio.create_task(shared.send_many(messages(b"b1", b"b2"))),
        asyncio.create_task(shared.send_many(messages(b"c"))),
        asyncio.create_task(shared.send_many(messages(b"d"))),
    ]
    await asyncio.sleep(0)  # the later calls are waiting now
    send.release.set()
    await asyncio.gather(first, *later)
    assert send.calls == [[b"a"], [b"b1", b"b2", b"c", b"d"]]


async def test_a_failing_group_is_sent_again_caller_by_caller_and_fails_only_its_culprit() -> None:
    send = FakeSend()
    send.release.set()
    shared = SharedSends(send)
    results = await asyncio.gather(
        shared.send_many(messages(b"a")),
        shared.send_many(messages(b"bad")),
        shared.send_many(messages(b"c")),
        return_exceptions=True,
    )
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], ValueError)
    assert send.calls == [[b"a", b"bad", b"c"], [b"a"], [b"bad"], [b"c"]]


async def test_a_caller_that_goes_away_does_not_cancel_its_group() -> None:
    send = FakeSend()
    shared = SharedSends(send)
    blocker = asyncio.create_task(shared.send_many(messages(b"a")))
    await send.started.wait()
    leaving = asyncio.create_task(shared.send_many(messages(b"b")))
    staying = asyncio.create_task(shared.send_many(messages(b"c")))
    await asyncio.sleep(0)
    leaving.cancel()
    send.release.set()
    await asyncio.gather(blocker, staying)
    with pytest.raises(asyncio.CancelledError):
        await leaving
    # The one who left was still sent: it had been accepted into the group.
    assert send.calls == [[b"a"], [b"b", b"c"]]


async def test_drain_waits_for_every_call_made_so_far() -> None:
    send = FakeSend()
    shared = SharedSends(send)
    calls = [asyncio.create_task(shared.send_many(messages(b"x"))) for _ in range(3)]
    await send.started.wait()
    draining = asyncio.create_task(shared.drain())
    await asyncio.sleep(0)
    assert not draining.done()
    send.release.set()
    await draining
    assert all(call.done() for call in calls)
    await shared.send_many([])  # nothing to send: no call at all
    assert send.calls == [[b"x", b"x", b"x"]]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.sampled_from([b"ok", b"bad"]), min_size=1, max_size=3),
            st.integers(min_value=0, max_value=3),  # loop turns before the call is made
        ),
        min_size=1,
        max_size=12,
    )
)
def test_every_caller_gets_the_outcome_of_its_own_messages(
    callers: list[tuple[list[bytes], int]],
) -> None:
    async def scenario() -> None:
        send = FakeSend()
        send.release.set()
        shared = SharedSends(send)

        async def call(values: list[bytes], turns: int) -> None:
            for _ in range(turns):
                await asyncio.sleep(0)
            await shared.send_many(messages(*values))

        results = await asyncio.gather(
            *(call(values, turns) for values, turns in callers), return_exceptions=True
        )
        for (values, _), result in zip(callers, results, strict=True):
            if b"bad" in values:
                assert isinstance(result, ValueError)
            else:
                assert result is None
            # Each caller's messages went out together and in order in some call that
            # succeeded, unless they hold a bad one.
            if b"bad" not in values:
                assert any(
                    _contains_run(sent, values) and b"bad" not in sent for sent in send.calls
                )

    asyncio.run(scenario())


def _contains_run(sent: list[bytes], values: list[bytes]) -> bool:
    n = len(values)
    return any(sent[i : i + n] == values for i in range(len(sent) - n + 1))


async def test_a_cancelled_send_cancels_its_callers_and_the_next_groups() -> None:
    send = FakeSend()
    shared = SharedSends(send)
    sending = asyncio.create_task(shared.send_many(messages(b"a")))
    await send.started.wait()
    queued = asyncio.create_task(shared.send_many(messages(b"b")))
    await asyncio.sleep(0)
    assert shared._flushing is not None
    shared._flushing.cancel()  # as at shutdown
    results = await asyncio.gather(sending, queued, return_exceptions=True)
    assert all(isinstance(r, asyncio.CancelledError) for r in results)
