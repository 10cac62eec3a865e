"""ResultsService over gRPC: each method converts, calls, and converts back."""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import logging
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TypeVar

import grpc

from backtest.v1 import results_pb2, results_pb2_grpc
from services.adapters.object_store import PARQUET_CONTENT_TYPE
from services.results import compare, convert, row_printing
from services.results.artifacts import EQUITY, TRADES, ArtifactKind, Artifacts
from services.results.catalog_client import CatalogClient
from services.results.report.rpc import ReportsMixin
from services.results.windows import RowWindow

log = logging.getLogger(__name__)
T = TypeVar("T")
_DONE = object()
# HttpBody messages of JSON text made per trip to a worker thread: about one printed batch.
_GROUP_BYTES = 2 * 1024 * 1024
# Record batches read and decoded ahead of the one being printed (see _read_ahead).
_READ_AHEAD = 2
# Groups of JSON messages printed ahead of the one being sent (see _made_ahead): memory holds
# at most this many groups plus the one being sent, ~6 MB.
_GROUPS_AHEAD = 2
# The threads that print JSON streams, one a stream while it lasts. Kept between streams (a pool,
# not a thread each): glibc gives a new thread a heap of its own, whose memory it hands back and
# faults in again (in one probe session a thread per stream took 23,700 page faults a curve, the
# pool 14,100; docs/benchmarks.md). Not the loop's default pool: a slow client would hold its
# thread for minutes. A stream beyond this many at once waits for a printer.
_PRINTERS = concurrent.futures.ThreadPoolExecutor(max_workers=16, thread_name_prefix="json-printer")
# The threads that read and decode record batches ahead (_read_ahead), one a stream while it lasts,
# kept for the same reason: with a new thread per stream, each stream's Arrow buffers came from a
# heap glibc had handed back and faulted them in again (a million-point curve 14,800-14,900 page
# faults a request, pooled 6,600-6,700; the service's CPU 124-149 ms, pooled 113-130 ms; in the
# same probe sessions, docs/benchmarks.md). A stream beyond this many at once waits for a reader.
_READERS = concurrent.futures.ThreadPoolExecutor(max_workers=16, thread_name_prefix="read-ahead")
# Methods whose servicer yields its HttpBody messages already serialized (see add_to_server).
WIRE_METHODS = ("GetEquityCurveJson", "GetTradesJson", "DownloadEquityCurve", "DownloadTrades")


class ResultsServicer(ReportsMixin, results_pb2_grpc.ResultsServiceServicer):
    """Serves artifacts and comparisons.

    catalog: where backtest records come from.
    artifacts: reader of the artifact store.
    """

    def __init__(self, catalog: CatalogClient, artifacts: Artifacts) -> None:
        self.catalog = catalog
        self.artifacts = artifacts

    # The window (start, end, every) is read before the record: a bad one is a 422 whatever the id.

    async def GetEquityCurve(self, request, context):
        window = RowWindow.parse(request.start, request.end, request.every)
        read, to_messages = self.artifacts.equity_rows, convert.equity_points
        async for point in self._rows(request.backtest_id, read, to_messages, window):
            yield point

    async def GetTrades(self, request, context):
        window = RowWindow.parse(request.start, request.end)
        async for trade in self._rows(request.backtest_id, self.artifacts.trade_rows, convert.trades, window):
            yield trade

    async def GetEquityCurveJson(self, request, context):
        window = RowWindow.parse(request.start, request.end, request.every)
        rows, print_rows = row_printing.EQUITY_BATCH_ROWS, row_printing.equity_rows
        async for body in self._json(request.backtest_id, self.artifacts.equity_batches, rows, print_rows, window):
            yield body

    async def GetTradesJson(self, request, context):
        window = RowWindow.parse(request.start, request.end)
        rows, print_rows = row_printing.TRADE_BATCH_ROWS, row_printing.trade_rows
        async for body in self._json(request.backtest_id, self.artifacts.trade_batches, rows, print_rows, window):
            yield body

    async def DownloadEquityCurve(self, request, context):
        async for body in self._download(request.backtest_id, EQUITY, context):
            yield body

    async def DownloadTrades(self, request, context):
        async for body in self._download(request.backtest_id, TRADES, context):
            yield body

    async def CompareBacktests(self, request, context) -> results_pb2.CompareBacktestsResponse:
        ids = compare.validate_ids(request.backtest_ids)
        runs = await self.catalog.get_backtests(ids)
        return convert.compare_response(compare.compare(runs))

    async def _rows(self, backtest_id: str, read: Callable, to_messages: Callable, window: RowWindow) -> AsyncIterator:
        """One message per row of an artifact in `window`.

        Batches are read off the event loop, and each message is built just before it is sent,
        so no batch of messages is ever held.
        """
        record = await self.catalog.get_backtest(backtest_id)
        log.info("rows", extra={"backtest_id": record.id, "reader": read.__name__})
        async for rows in _in_thread(read(record, window)):
            for message in to_messages(rows):
                yield message

    async def _json(
        self, backtest_id: str, read: Callable, batch_rows: int, print_rows: Callable, window: RowWindow
    ) -> AsyncIterator:
        """An artifact's rows in `window` as the JSON array the gateway would print for its typed stream, in chunks.

        The record (404), the artifact (409) and the first chunk are all read before the first
        message, so a failure is still a clean error status rather than a body cut short.
        """
        record = await self.catalog.get_backtest(backtest_id)
        log.info("json rows", extra={"backtest_id": record.id, "reader": read.__name__})

        def first_then_rest() -> Iterator[bytes]:
            chunks = row_printing.json_array(print_rows(_read_ahead(read(record, batch_rows, window))))
            return itertools.chain([next(chunks)], chunks)

        chunks = await asyncio.to_thread(first_then_rest)
        messages = convert.http_body_wire(chunks, row_printing.CONTENT_TYPE)
        async for group in _made_ahead(_groups(messages, _GROUP_BYTES)):
            for message in group:
                yield message

    async def _download(self, backtest_id: str, kind: ArtifactKind, context) -> AsyncIterator:
        """The artifact's bytes as HttpBody messages, after the 404/409 checks and the file-name header."""
        record = await self.catalog.get_backtest(backtest_id)
        chunks = await asyncio.to_thread(self.artifacts.file_chunks, record, kind)
        log.info("download", extra={"backtest_id": record.id, "artifact": kind.name})
        await context.send_initial_metadata((("content-disposition", kind.content_disposition(record.id)),))
        async for message in _in_thread(convert.http_body_wire(chunks, PARQUET_CONTENT_TYPE)):
            yield message


def add_to_server(servicer: ResultsServicer, server: grpc.aio.Server) -> None:
    """add_ResultsServiceServicer_to_server, except that WIRE_METHODS send what they yield as it is.

    Those methods yield serialized HttpBody messages (convert.http_body_wire): gRPC gets ready-made
    bytes instead of a message object to serialize, one fewer copy and no protobuf object per
    message. Clients see the same HttpBody stream; the contract does not change.
    """
    capture = _Capture()
    results_pb2_grpc.add_ResultsServiceServicer_to_server(servicer, capture)
    handlers = dict(capture.handlers)
    for name in WIRE_METHODS:
        handlers[name] = handlers[name]._replace(response_serializer=None)  # None: the bytes go out as they are
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(capture.service, handlers),))
    server.add_registered_method_handlers(capture.service, handlers)


class _Capture:
    """Stands in for a server to catch the handlers the generated code registers."""

    def add_generic_rpc_handlers(self, handlers) -> None:
        pass

    def add_registered_method_handlers(self, service: str, handlers: dict) -> None:
        self.service, self.handlers = service, handlers


def _groups(messages: Iterator[bytes], group_bytes: int) -> Iterator[list[bytes]]:
    """The messages in lists of about group_bytes: one hop to a worker thread per list, not per message.

    The first message goes in a list of its own: it was printed before the stream started (see
    _json), and a full first group waited for the next batch to be read and printed too (first
    byte of a million-point curve 20.9 -> 18.5 ms, of a 117,047-trade list 30.7 -> 28.6 ms, in
    one probe session; the last byte no sooner).
    """
    messages = iter(messages)
    first = next(messages, None)
    if first is not None:
        yield [first]
    group, size = [], 0
    for message in messages:
        group.append(message)
        size += len(message)
        if size >= group_bytes:
            yield group
            group, size = [], 0
    if group:
        yield group


def _last(entry: tuple) -> bool:
    """Whether a producer thread's entry (more, item) ends the stream; its failure is raised here, in order."""
    more, item = entry
    if not more and item is not None:
        raise item
    return not more


def _read_ahead(items: Iterator[T], depth: int = _READ_AHEAD) -> Iterator[T]:
    """The items of a blocking iterator, read by a pooled thread (_READERS) up to `depth` ahead of the caller.

    Record batches are read from S3 and decoded (a ranged GET now and then, Arrow's decoding
    with the GIL released) while the batch before is printed: a million-point curve's ~60 ms
    of decoding and its GETs' waits leave the printing thread's path. A failure is raised
    here, in order, at the item it replaced. When the caller stops early (the generator is
    closed), the thread stops after the item it is reading and drops the iterator.
    """
    ready: queue.Queue = queue.Queue(depth)
    stop = threading.Event()

    def offer(entry: tuple) -> bool:
        while not stop.is_set():
            try:
                ready.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer((True, item)):
                    return
            offer((False, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, raised there
            offer((False, exc))

    _READERS.submit(produce)
    try:
        while not _last(entry := ready.get()):
            yield entry[1]
    finally:
        stop.set()


async def _made_ahead(items: Iterator[T], ahead: int = _GROUPS_AHEAD) -> AsyncIterator[T]:
    """The items of a blocking iterator, made by a printer thread up to `ahead` items before the loop takes them.

    The JSON text's printing is its critical path. Asked for one group at a time
    (asyncio.to_thread once the loop had the group before), the printer stopped whenever the
    loop was still sending: 0.037 s of a curve's 0.13 s stream (timers in the service); here
    it goes on until `ahead` groups wait (0.019 s, the curve 9% faster through the gateway).
    A failure is raised here, in order, at the item it replaced. When the call ends early
    (cancelled, the client gone) the thread stops before its next item and closes the
    iterator itself, which ends the read-ahead thread beneath and the S3 response.
    """
    loop = asyncio.get_running_loop()
    ready: asyncio.Queue = asyncio.Queue()  # bounded by `room`: the thread takes a slot before each item
    room = threading.Semaphore(ahead)
    stop = threading.Event()

    def hand(entry: tuple) -> None:
        try:
            loop.call_soon_threadsafe(ready.put_nowait, entry)
        except RuntimeError:  # the loop has closed: nobody will take it
            stop.set()

    def produce() -> None:
        try:
            while not stop.is_set():
                if not room.acquire(timeout=0.1):
                    continue
                item = next(items, _DONE)
                if item is _DONE:
                    hand((False, None))
                    return
                hand((True, item))
        except BaseException as exc:  # noqa: BLE001 - handed to the loop, raised there
            hand((False, exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    loop.run_in_executor(_PRINTERS, produce)
    try:
        while not _last(entry := await ready.get()):
            room.release()
            yield entry[1]
    finally:
        stop.set()


async def _in_thread(items: Iterator[T]) -> AsyncIterator[T]:
    """Advances a blocking iterator in worker threads, so the event loop never waits on S3 or Parquet.

    items: the iterator; if the call is cancelled mid-step, the worker thread
    finishes that step and then drops its reference, which finalises the
    generators underneath (closing their S3 responses).
    """
    while (item := await asyncio.to_thread(next, items, _DONE)) is not _DONE:
        yield item
