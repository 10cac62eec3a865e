"""The JSON text's messages made ahead in a thread of their own: in order, failures in place, early stops clean."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from services.results.servicer import _made_ahead


async def _all(items, **kwargs) -> list:
    return [item async for item in _made_ahead(items, **kwargs)]


def test_items_come_in_order_and_all_of_them():
    assert asyncio.run(_all(iter(range(1000)), ahead=2)) == list(range(1000))
    assert asyncio.run(_all(iter([]))) == []


def test_a_failure_is_raised_where_its_item_would_have_been():
    def items():
        yield 1
        yield 2
        raise LookupError("gone")

    async def take(seen: list) -> None:
        async for item in _made_ahead(items()):
            seen.append(item)

    seen: list[int] = []
    with pytest.raises(LookupError, match="gone"):
        asyncio.run(take(seen))
    assert seen == [1, 2]


def test_the_thread_makes_at_most_ahead_items_and_closes_the_iterator_when_the_caller_stops():
    made: list[int] = []
    closed = threading.Event()

    def items():
        try:
            for index in range(1000):
                made.append(index)
                yield index
        finally:
            closed.set()  # set by close(), in the making thread, or at the end

    async def stop_early() -> int:
        ahead = _made_ahead(items(), ahead=2)
        first = await anext(ahead)
        await asyncio.sleep(0.3)
        # The caller holds item 0 (its slot freed when taken): two more are made, no further.
        assert len(made) == 3, made
        await ahead.aclose()
        return first

    assert asyncio.run(stop_early()) == 0
    assert closed.wait(5), "the making thread did not stop and close its iterator"
    time.sleep(0.2)
    assert len(made) == 3
