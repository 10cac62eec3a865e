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
"""

from __future__ import annotations

import io
import json
import statistics
import time
from collections.abc import Callable

import orjson
import pyarrow.parquet as pq

from bench.downloads import minute_config
from bench.report import Figure, Target
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


def _compare(session: Session, backtest_id: str, what: str, path: str) -> None:
    """Times JSON and Parquet through the gateway and orjson in process; adds the figures."""
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
    mb = len(body) / 1e6
    session.say(
        f"  {what}: {len(rows):,} rows, JSON {mb:.1f} MB in {json_s:.3f} s through the gateway"
        f" ({json_s / orjson_s:.2f}x orjson's {orjson_s:.3f} s in process,"
        f" {json_s / parquet_s:.2f}x the Parquet download's {parquet_s:.3f} s)"
    )
    add = session.report.add
    label = f"{what} JSON via gateway, {len(rows):,} rows, {mb:.0f} MB (median of {runs})"
    add(SECTION, Figure(label, json_s, "s", orjson_s, "orjson.dumps in process", json_s / orjson_s, VS_ORJSON))
    add(SECTION, Figure(label, json_s, "s", parquet_s, "Parquet via gateway", json_s / parquet_s, VS_PARQUET))


def run(session: Session) -> None:
    """The section: the curve of one run, the trades of another."""
    session.say("json: equity curve and trade list of million-bar runs, as JSON through the gateway")
    if not session.fleet.names():
        session.fleet.ensure(1)
    series = session.client.call("GET", f"/market-data/{SYMBOL}/{TIMEFRAME}")
    strategy_id = create_strategy(session.client, "json")
    curve_run = create_backtest(session.client, strategy_id, "vectorbt", minute_config(series))
    execute_sync(session.client, curve_run)
    _compare(session, curve_run, f"equity curve ({series['rows']:,} bars)", "equity-curve")

    config = minute_config(series)
    config.update(signal_plugin_key="expression", signal_plugin_params=BUSY)
    fields = backtest_fields(strategy_id, "vectorbt", config) | FRICTIONLESS  # the run's own fields, not config's
    trades_run = session.client.call("POST", "/backtests", fields)["id"]
    _, result = execute_sync(session.client, trades_run)
    count = result.get("metrics", {}).get("trade_total_trades") or 0
    session.say(f"  the rising-close strategy made {count:,} trades")
    if count < MIN_TRADES:
        raise RuntimeError(f"the trade-list run made {count:,} trades, fewer than the {MIN_TRADES:,} to measure")
    _compare(session, trades_run, "trade list", "trades")
