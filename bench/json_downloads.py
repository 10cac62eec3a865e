"""JSON results at minute-data scale: the equity curve and the trade list of million-bar runs, through the gateway.

Two vectorbt runs over the whole SYNTH1M minute series (1,000,350 bars): the
crossover of the `downloads` section for the curve, and for the trade list
an `expression` strategy that goes long after two rising closes and flat
after a down bar, without commission or slippage: about 117,000 trades.
(With the default costs, 0.1% a side, the up-bar/down-bar strategy this
section used before lost all but 1e-10 of its capital within 17,000 trades
and then could not trade on; the run must make at least MIN_TRADES or the
section fails before timing anything.) Each JSON body is read whole through
the gateway (GET .../equity-curve, GET .../trades, 1 MiB reads), and
compared with two baselines measured in the same run:

- orjson serialising the same points in this process (the list of dicts
  that json.loads made of the body): what a service that holds the rows in
  memory and dumps them would take at best; target <= 2x;
- the Parquet download of the same artifact through the same gateway;
  target <= 10x.

The body is checked before timing: it must parse, and hold as many rows as
the Parquet file. Medians of `--runs` reads each.

The floor, measured in the same run: the very same JSON bytes stored as an
object and downloaded through the same path (a run PATCHed to name that
object as its curve, read by GET .../equity-curve/parquet: the results
service streams it from S3 as HttpBody messages of 1 MiB, the gateway writes
them as HTTP chunks, the same client reads them). No printing happens on that
path, only moving the bytes, plus reading them from S3 (timed on its own too,
in process). And the transport alone: the same bytes, ready-made in memory,
sent as the results service sends its JSON (HttpBody wire bytes of at most
120 KB from an asyncio gRPC server: `python -m bench.json_downloads FILE`, a
stand-in with no printing, no catalog and no S3) through a second local
gateway process of the same code, read by the same client. The local
gateway is the Python stand-in for Envoy, so both floors are this stack's,
not Envoy's.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pyarrow.parquet as pq

from bench.downloads import minute_config
from bench.report import Figure, Target
from bench.rest_client import RestClient
from bench.session import Session
from bench.workload import backtest_fields, create_backtest, create_strategy, execute_sync

SECTION = "json"
SYMBOL, TIMEFRAME = "SYNTH1M", "1m"
VS_ORJSON, VS_PARQUET = Target("<=", 2.0), Target("<=", 10.0)
BUSY = {"entry": "close > shift(close, 1) and shift(close, 1) > shift(close, 2)", "exit": "close < open"}
FRICTIONLESS = {"commission": 0.0, "slippage": 0.0}  # costs would bleed the capital away, and the trading with it
MIN_TRADES = 100_000


def _read(session: Session, path: str) -> tuple[float, bytes]:
    began = time.perf_counter()
    body = b"".join(session.client.stream(path))
    return time.perf_counter() - began, body


def _median(runs: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(runs))


def _floor(session: Session, floor_run: str, body: bytes, runs: int) -> tuple[float, float]:
    """(median seconds to download `body` through the gateway as a stored artifact, median S3 GET in process).

    floor_run: a run of its own, PATCHed to completed with `body` as its equity curve.
    """
    # An artifact's key must end in .parquet; the download passes any stored bytes through unread.
    key = f"artifacts/bench-json-floor/{floor_run}/json-body.parquet"
    uri = session.store.put_bytes(key, body, content_type="application/json")
    try:
        session.client.call("PATCH", f"/backtests/{floor_run}", {"status": "completed", "equity_curve_uri": uri})
        path = f"/backtests/{floor_run}/equity-curve/parquet"
        _, copy = _read(session, path)  # warm, and check the path moves the bytes unchanged
        if copy != body:
            raise RuntimeError(f"the floor download returned {len(copy):,} bytes, not the {len(body):,} stored")
        floor_s = _median(runs, lambda: _read(session, path)[0])

        def s3_get() -> float:
            began = time.perf_counter()
            for _ in session.store.stream(key):
                pass
            return time.perf_counter() - began

        return floor_s, _median(runs, s3_get)
    finally:
        session.store.remove(key)


REPO = Path(__file__).resolve().parents[1]
STAND_IN_PATH = "/backtests/00000000-0000-0000-0000-000000000000/equity-curve"


def _healthy(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/healthz")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


@contextlib.contextmanager
def _stand_in_gateway(body: bytes) -> Iterator[RestClient]:
    """A stand-in results service serving `body` ready-made, and a local gateway of its own in front of it."""
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch, "body.json")
        source.write_bytes(body)
        service = subprocess.Popen(
            [sys.executable, "-m", "bench.json_downloads", str(source)], cwd=REPO, stdout=subprocess.PIPE, text=True
        )
        gateway = None
        try:
            address = f"127.0.0.1:{int(service.stdout.readline())}"
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            env = {**os.environ, "GATEWAY_UPSTREAMS": f"backtest.v1.ResultsService={address}"}
            env |= {"GATEWAY_PORT": str(port), "GATEWAY_HOST": "127.0.0.1", "LOG_LEVEL": "WARNING"}
            gateway = subprocess.Popen([sys.executable, "-m", "gateway.transcoder"], cwd=REPO, env=env)
            deadline = time.monotonic() + 60
            while not _healthy(port):
                if time.monotonic() > deadline or gateway.poll() is not None:
                    raise RuntimeError("the stand-in's gateway did not start")
                time.sleep(0.2)
            client = RestClient(f"http://127.0.0.1:{port}")
            try:
                yield client
            finally:
                client.close()
        finally:
            for process in (gateway, service):
                if process is not None:
                    process.terminate()
                    process.wait(timeout=30)


def _transport_floor(body: bytes, runs: int) -> float:
    """Median seconds to read `body` through the stand-in service and its gateway (see the module's docstring)."""
    with _stand_in_gateway(body) as client:

        def read() -> float:
            began = time.perf_counter()
            copy = b"".join(client.stream(STAND_IN_PATH))
            took = time.perf_counter() - began
            if copy != body:
                raise RuntimeError(f"the stand-in path returned {len(copy):,} bytes, not the {len(body):,} served")
            return took

        read()  # warm: connections, first allocations
        return _median(runs, read)


def _serve_stand_in(source: str) -> None:
    """`python -m bench.json_downloads FILE`: serves FILE as GetEquityCurveJson serves its text; prints the port."""
    import grpc

    from services.kit.allocator import release_large_buffers
    from services.results.convert import http_body_wire
    from services.results.row_printing import CONTENT_TYPE, MMAP_THRESHOLD_BYTES, PIECE_BYTES

    body = Path(source).read_bytes()

    async def stream(request, context):
        pieces = (body[start : start + PIECE_BYTES] for start in range(0, len(body), PIECE_BYTES))
        for message in http_body_wire(pieces, CONTENT_TYPE):
            yield message

    async def serve() -> None:
        release_large_buffers(MMAP_THRESHOLD_BYTES)  # as the results service does
        server = grpc.aio.server(options=[("grpc.max_send_message_length", 64 * 1024 * 1024)])
        handler = grpc.unary_stream_rpc_method_handler(stream)  # bytes in, ready-made bytes out
        methods = grpc.method_handlers_generic_handler("backtest.v1.ResultsService", {"GetEquityCurveJson": handler})
        server.add_generic_rpc_handlers((methods,))
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        print(port, flush=True)
        await server.wait_for_termination()

    asyncio.run(serve())


def _compare(session: Session, backtest_id: str, what: str, path: str, floor_run: str) -> None:
    """Times JSON and Parquet through the gateway, orjson in process and the floor; adds the figures."""
    runs = max(3, session.options.runs)
    _read(session, f"/backtests/{backtest_id}/{path}")  # warm: connections, the service's page cache
    json_s = _median(runs, lambda: _read(session, f"/backtests/{backtest_id}/{path}")[0])
    _, body = _read(session, f"/backtests/{backtest_id}/{path}")
    rows = json.loads(body)
    parquet_s = _median(runs, lambda: _read(session, f"/backtests/{backtest_id}/{path}/parquet")[0])
    _, parquet = _read(session, f"/backtests/{backtest_id}/{path}/parquet")
    stored = pq.read_metadata(io.BytesIO(parquet)).num_rows
    if len(rows) != stored:
        raise RuntimeError(f"{what}: the JSON has {len(rows)} rows, the Parquet file {stored}")

    def dump() -> float:
        began = time.perf_counter()
        orjson.dumps(rows)
        return time.perf_counter() - began

    orjson_s = _median(runs, dump)
    floor_s, s3_s = _floor(session, floor_run, body, runs)
    transport_s = _transport_floor(body, runs)
    mb = len(body) / 1e6
    session.say(
        f"  {what}: {len(rows):,} rows, JSON {mb:.1f} MB in {json_s:.3f} s through the gateway"
        f" ({json_s / orjson_s:.2f}x orjson's {orjson_s:.3f} s in process,"
        f" {json_s / parquet_s:.2f}x the Parquet download's {parquet_s:.3f} s)"
    )
    session.say(
        f"  floor: the same {mb:.1f} MB stored, downloaded through the same results service, local gateway"
        f" (the Python stand-in for Envoy) and client: {floor_s:.3f} s = {floor_s / orjson_s:.2f}x orjson"
        f" (of which S3 GET in process {s3_s:.3f} s); JSON is {json_s / floor_s:.2f}x the floor"
    )
    session.say(
        f"  transport floor: the same {mb:.1f} MB ready-made in a stand-in service, through a local gateway"
        f" to the same client: {transport_s:.3f} s = {transport_s / orjson_s:.2f}x orjson;"
        f" JSON is {json_s / transport_s:.2f}x it"
    )
    add = session.report.add
    label = f"{what} JSON via gateway, {len(rows):,} rows, {mb:.0f} MB (median of {runs})"
    add(SECTION, Figure(label, json_s, "s", orjson_s, "orjson.dumps in process", json_s / orjson_s, VS_ORJSON))
    add(SECTION, Figure(label, json_s, "s", parquet_s, "Parquet via gateway", json_s / parquet_s, VS_PARQUET))
    add(SECTION, Figure(label, json_s, "s", floor_s, "floor: same bytes stored, via gateway", json_s / floor_s))
    add(
        SECTION,
        Figure(
            f"floor: the same {mb:.0f} MB as a stored object via results service + local gateway (median of {runs})",
            floor_s,
            "s",
            orjson_s,
            "orjson.dumps in process",
            floor_s / orjson_s,
        ),
    )
    add(SECTION, Figure(f"  of which: S3 GET of those {mb:.0f} MB in process (median of {runs})", s3_s, "s"))
    add(
        SECTION,
        Figure(
            f"transport floor: the same {mb:.0f} MB ready-made, stand-in service + local gateway (median of {runs})",
            transport_s,
            "s",
            orjson_s,
            "orjson.dumps in process",
            transport_s / orjson_s,
        ),
    )
    add(SECTION, Figure(label, json_s, "s", transport_s, "transport floor", json_s / transport_s))


def run(session: Session) -> None:
    """The section: the curve of one run, the trades of another."""
    session.say("json: equity curve and trade list of million-bar runs, as JSON through the gateway")
    if not session.fleet.names():
        session.fleet.ensure(1)
    series = session.client.call("GET", f"/market-data/{SYMBOL}/{TIMEFRAME}")
    strategy_id = create_strategy(session.client, "json")
    curve_run = create_backtest(session.client, strategy_id, "vectorbt", minute_config(series))
    execute_sync(session.client, curve_run)
    floor_run = create_backtest(session.client, strategy_id, "vectorbt", minute_config(series))  # never executed
    try:
        _measure(session, strategy_id, series, curve_run, floor_run)
    finally:
        session.client.call("DELETE", f"/backtests/{floor_run}")


def _measure(session: Session, strategy_id: str, series: dict, curve_run: str, floor_run: str) -> None:
    """The curve's figures, then the trade-list run's."""
    _compare(session, curve_run, f"equity curve ({series['rows']:,} bars)", "equity-curve", floor_run)

    config = minute_config(series)
    config.update(signal_plugin_key="expression", signal_plugin_params=BUSY)
    fields = backtest_fields(strategy_id, "vectorbt", config) | FRICTIONLESS  # the run's own fields, not config's
    trades_run = session.client.call("POST", "/backtests", fields)["id"]
    _, result = execute_sync(session.client, trades_run)
    count = result.get("metrics", {}).get("trade_total_trades") or 0
    session.say(f"  the rising-close strategy made {count:,} trades")
    if count < MIN_TRADES:
        raise RuntimeError(f"the trade-list run made {count:,} trades, fewer than the {MIN_TRADES:,} to measure")
    _compare(session, trades_run, "trade list", "trades", floor_run)


if __name__ == "__main__":
    _serve_stand_in(sys.argv[1])
