"""services.ingest.deadlines: one shared timer behaves as asyncio.timeout per scope."""

from __future__ import annotations

import asyncio

import pytest

from services.ingest.deadlines import Deadlines


async def test_a_scope_past_its_deadline_ends_with_timeout_error() -> None:
    deadlines = Deadlines(0.05)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TimeoutError):
        async with deadlines.scope():
            await asyncio.sleep(5)
    assert 0.05 <= loop.time() - started < 2
    # the task was uncancelled: it goes on awaiting normally
    await asyncio.sleep(0.01)
    assert deadlines.pending() == 0


async def test_scopes_that_finish_in_time_are_left_alone() -> None:
    deadlines = Deadlines(0.2)

    async def quick(index: int) -> int:
        async with deadlines.scope():
            await asyncio.sleep(0.001 * (index % 5))
        await asyncio.sleep(0.3)  # past the deadline, outside the scope: nothing happens
        return index

    assert await asyncio.gather(*(quick(i) for i in range(200))) == list(range(200))
    assert deadlines.pending() == 0


async def test_each_expired_scope_times_out_at_its_own_deadline_among_finished_ones() -> None:
    deadlines = Deadlines(0.1)
    loop = asyncio.get_running_loop()
    outcomes: dict[int, tuple[str, float]] = {}

    async def request(index: int, work: float) -> None:
        await asyncio.sleep(0.02 * (index // 10))  # staggered starts: deadlines in order
        started = loop.time()
        try:
            async with deadlines.scope():
                await asyncio.sleep(work)
            outcomes[index] = ("done", loop.time() - started)
        except TimeoutError:
            outcomes[index] = ("timeout", loop.time() - started)

    # every third request works past the timeout; the others finish quickly, out of order
    await asyncio.gather(*(request(i, 1.0 if i % 3 == 0 else 0.001 * (i % 7)) for i in range(40)))
    for index, (outcome, took) in outcomes.items():
        if index % 3 == 0:
            assert outcome == "timeout" and 0.1 <= took < 0.6, (index, outcome, took)
        else:
            assert outcome == "done" and took < 0.1, (index, outcome, took)
    assert deadlines.pending() == 0


async def test_a_cancellation_from_elsewhere_is_not_turned_into_a_timeout() -> None:
    deadlines = Deadlines(10)
    entered = asyncio.Event()

    async def waiting() -> None:
        async with deadlines.scope():
            entered.set()
            await asyncio.sleep(5)

    task = asyncio.create_task(waiting())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert deadlines.pending() == 0


async def test_an_error_inside_the_scope_passes_through() -> None:
    deadlines = Deadlines(10)
    with pytest.raises(ValueError):
        async with deadlines.scope():
            raise ValueError("boom")
    assert deadlines.pending() == 0
