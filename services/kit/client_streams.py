"""A gRPC client stream read from a worker thread, as a blocking iterator.

Uploads are parsed by blocking code (pyarrow) in a worker thread while the
event loop keeps receiving the stream, a few messages ahead of the thread:
at most that many messages are held beyond what the parser holds, and the
client's own flow control does the rest.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")
U = TypeVar("U")


class _Done:
    """The end of a stream, as put on the queue of a ReadAheadStream."""


_DONE = _Done()


class ReadAheadStream(Generic[T, U]):
    """The rest of an async stream, received by the event loop up to `ahead` messages ahead of a worker thread.

    A task of the loop reads the messages back to back as they arrive and puts what `pick`
    takes of each on a queue the thread iterates. Before, the thread asked the loop for
    each message and waited for the answer: each message cost hand-offs of the GIL between
    the loop and threads busy parsing, and a 77 MB upload arrived no faster than those
    (about 90 MB/s on the 2-core machine, the parser waiting for data a quarter of its time).

    messages: the stream (the first message already taken by the caller).
    loop: the event loop the stream belongs to; create the object in it (it starts the task).
    pick: what to hand out of each message (e.g. its bytes).
    ahead: messages held at most beyond what the thread holds (memory: ahead x message size).
    A failure to receive is raised in the thread at the point of the stream where it happened.
    Call `close()` (in the loop) when the call ends, however it ends: the task stops and a
    thread still iterating gets CancelledError at its next message.
    """

    def __init__(
        self, messages: AsyncIterator[T], loop: asyncio.AbstractEventLoop, pick: Callable[[T], U], *, ahead: int = 8
    ) -> None:
        self._messages = messages
        self._loop = loop
        self._pick = pick
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._room = asyncio.Semaphore(ahead)
        self._closed = False
        self._task = loop.create_task(self._receive())

    async def _receive(self) -> None:
        try:
            while True:
                await self._room.acquire()
                message = await anext(self._messages, _DONE)
                if message is _DONE:
                    self._queue.put(_DONE)
                    return
                self._queue.put(self._pick(message))
        except asyncio.CancelledError:
            self._queue.put(concurrent.futures.CancelledError("the call ended"))
            raise
        except BaseException as exc:  # noqa: BLE001 - raised in the iterating thread
            self._queue.put(exc)

    def __iter__(self) -> Iterator[U]:
        while True:
            item = self._queue.get()
            if self._closed:
                raise concurrent.futures.CancelledError("the call ended")
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            self._loop.call_soon_threadsafe(self._room.release)  # room for one more message
            yield item

    def close(self) -> None:
        """Stops the receiving task; the thread's next (or current) wait raises CancelledError."""
        self._closed = True
        self._task.cancel()
        self._queue.put(concurrent.futures.CancelledError("the call ended"))
