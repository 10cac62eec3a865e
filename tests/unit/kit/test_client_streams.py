"""ReadAheadStream: an async stream received by the loop ahead of a thread that iterates it."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading

import pytest

from services.kit.client_streams import ReadAheadStream


async def _messages(items, received: list, failure: BaseException | None = None):
    for item in items:
        received.append(item)
        yield item
        await asyncio.sleep(0)
    if failure is not None:
        raise failure


def test_hands_out_every_message_in_order_as_picked():
    async def main():
        received: list = []
        stream = ReadAheadStream(_messages(range(50), received), asyncio.get_running_loop(), lambda m: m * 2, ahead=4)
        try:
            return await asyncio.to_thread(list, stream)
        finally:
            stream.close()

    assert asyncio.run(main()) == [m * 2 for m in range(50)]


def test_receives_no_more_than_ahead_messages_beyond_the_thread():
    async def main():
        received: list = []
        stream = ReadAheadStream(_messages(range(50), received), asyncio.get_running_loop(), lambda m: m, ahead=3)
        await asyncio.sleep(0.05)  # nothing iterates: the loop stops after `ahead` messages
        held = len(received)
        pieces = iter(stream)
        first = await asyncio.to_thread(next, pieces)
        await asyncio.sleep(0.05)
        after_one = len(received)
        stream.close()
        return held, first, after_one

    held, first, after_one = asyncio.run(main())
    assert (held, first, after_one) == (3, 0, 4)


def test_a_failure_to_receive_is_raised_in_the_thread_after_what_came_before():
    async def main():
        received: list = []
        failure = RuntimeError("stream broke")
        stream = ReadAheadStream(_messages([1, 2], received, failure), asyncio.get_running_loop(), lambda m: m)
        got: list = []

        def drain():
            for item in stream:
                got.append(item)

        try:
            with pytest.raises(RuntimeError, match="stream broke"):
                await asyncio.to_thread(drain)
        finally:
            stream.close()
        return got

    assert asyncio.run(main()) == [1, 2]


def test_close_wakes_a_thread_waiting_for_a_message():
    async def main():
        never = asyncio.Event()

        async def stalled():
            yield b"first"
            await never.wait()  # the client sends nothing more
            yield b"never"

        stream = ReadAheadStream(stalled(), asyncio.get_running_loop(), lambda m: m)
        outcome: list = []
        waiting = threading.Event()

        def drain():
            try:
                for item in stream:
                    outcome.append(item)
                    waiting.set()
            except concurrent.futures.CancelledError:
                outcome.append("cancelled")

        worker = asyncio.create_task(asyncio.to_thread(drain))
        await asyncio.to_thread(waiting.wait, 5)
        await asyncio.sleep(0.02)
        stream.close()
        await asyncio.wait_for(worker, 5)
        await asyncio.sleep(0)
        return outcome, stream._task.cancelled()

    outcome, task_cancelled = asyncio.run(main())
    assert outcome == [b"first", "cancelled"]
    assert task_cancelled
