"""The results service's two read-ahead helpers: same items in order, failures in place, early stops clean.

`_read_ahead` reads record batches ahead of a caller's thread; `_made_ahead` makes the
JSON text's messages ahead of the event loop, in a thread of its own; `_groups` cuts the
messages into the lists `_made_ahead` hands over.
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from services.results.servicer import _groups, _made_ahead, _read_ahead


def _failing_after_two():
    yield 1
    yield 2
    raise LookupError("gone")


def _counting(made: list[int], done: threading.Event):
    """0, 1, 2, ... each recorded in `made` as it is made; `done` is set once the generator is closed or ends."""
    try:
        for index in range(1000):
            made.append(index)
            yield index
    finally:
        done.set()


async def _all(items, **kwargs) -> list:
    return [item async for item in _made_ahead(items, **kwargs)]


def test_items_come_in_order_and_all_of_them():
    assert list(_read_ahead(iter(range(1000)), depth=2)) == list(range(1000))
    assert list(_read_ahead(iter([]))) == []


def test_a_failure_is_raised_where_its_item_would_have_been():
    seen = []
    with pytest.raises(LookupError, match="gone"):
        for item in _read_ahead(_failing_after_two()):
            seen.append(item)
    assert seen == [1, 2]


def test_reading_runs_at_most_depth_ahead_and_stops_when_the_caller_stops():
    made: list[int] = []
    finished = threading.Event()
    ahead = _read_ahead(_counting(made, finished), depth=2)
    assert next(ahead) == 0
    time.sleep(0.3)
    # The caller holds item 0; two wait in the queue, one more is held by the blocked thread.
    assert len(made) <= 4
    ahead.close()
    assert finished.wait(5), "the reading thread did not stop and drop its iterator"
    assert len(made) <= 4


def test_made_ahead_items_come_in_order_and_all_of_them():
    assert asyncio.run(_all(iter(range(1000)), ahead=2)) == list(range(1000))
    assert asyncio.run(_all(iter([]))) == []


def test_made_ahead_raises_a_failure_where_its_item_would_have_been():
    async def take(seen: list) -> None:
        async for item in _made_ahead(_failing_after_two()):
            seen.append(item)

    seen: list[int] = []
    with pytest.raises(LookupError, match="gone"):
        asyncio.run(take(seen))
    assert seen == [1, 2]


def test_the_thread_makes_at_most_ahead_items_and_closes_the_iterator_when_the_caller_stops():
    made: list[int] = []
    closed = threading.Event()  # set by close(), in the making thread, or at the end

    async def stop_early() -> int:
        ahead = _made_ahead(_counting(made, closed), ahead=2)
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


def test_groups_send_the_first_message_alone_then_lists_of_at_least_the_group_size_in_order():
    messages = [bytes([n]) * size for n, size in enumerate((5, 3, 4, 2, 6, 1))]
    groups = list(_groups(iter(messages), 6))
    assert groups == [messages[:1], messages[1:3], messages[3:5], messages[5:]]
    assert list(_groups(iter([]), 6)) == []
    assert list(_groups(iter([b"x"]), 6)) == [[b"x"]]
