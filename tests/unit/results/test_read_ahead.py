"""The results service's read-ahead of record batches: same items in order, failures in place, early stops clean."""

from __future__ import annotations

import threading
import time

import pytest

from services.results.servicer import _read_ahead


def test_items_come_in_order_and_all_of_them():
    assert list(_read_ahead(iter(range(1000)), depth=2)) == list(range(1000))
    assert list(_read_ahead(iter([]))) == []


def test_a_failure_is_raised_where_its_item_would_have_been():
    def items():
        yield 1
        yield 2
        raise LookupError("gone")

    seen = []
    with pytest.raises(LookupError, match="gone"):
        for item in _read_ahead(items()):
            seen.append(item)
    assert seen == [1, 2]


def test_reading_runs_at_most_depth_ahead_and_stops_when_the_caller_stops():
    made: list[int] = []
    finished = threading.Event()

    def items():
        try:
            for index in range(1000):
                made.append(index)
                yield index
        finally:
            finished.set()

    ahead = _read_ahead(items(), depth=2)
    assert next(ahead) == 0
    time.sleep(0.3)
    # The caller holds item 0; two wait in the queue, one more is held by the blocked thread.
    assert len(made) <= 4
    ahead.close()
    assert finished.wait(5), "the reading thread did not stop and drop its iterator"
    assert len(made) <= 4
