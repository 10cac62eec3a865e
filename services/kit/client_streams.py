"""A gRPC client stream read from a worker thread, as a blocking iterator.

Uploads are parsed by blocking code (pyarrow) in a worker thread while the
event loop keeps receiving the stream. The thread asks the loop for one
message at a time, so at most one message is held beyond what the parser
holds: the client's own flow control does the rest.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")
U = TypeVar("U")


class BlockingStream(Generic[T, U]):
    """The rest of an async stream, each message mapped by `pick`, for a worker thread to iterate.

    messages: the stream (the first message already taken by the caller).
    loop: the event loop the stream belongs to.
    pick: what to hand out of each message (e.g. its bytes).
    Call `close()` when the call ends, however it ends: a thread still waiting is woken with CancelledError.
    """

    def __init__(self, messages: AsyncIterator[T], loop: asyncio.AbstractEventLoop, pick: Callable[[T], U]) -> None:
        self._messages = messages
        self._loop = loop
        self._pick = pick
        self._pending: concurrent.futures.Future | None = None
        self._closed = False

    async def _next(self) -> T | None:
        return await anext(self._messages, None)

    def __iter__(self) -> Iterator[U]:
        while not self._closed:
            self._pending = asyncio.run_coroutine_threadsafe(self._next(), self._loop)
            message = self._pending.result()  # CancelledError once closed
            if message is None:
                return
            yield self._pick(message)
        raise concurrent.futures.CancelledError("the call ended")

    def close(self) -> None:
        """Stops the iteration: the thread's next (or current) wait raises CancelledError."""
        self._closed = True
        if self._pending is not None:
            self._pending.cancel()
