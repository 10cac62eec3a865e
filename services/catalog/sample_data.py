"""SYNTHETIC sample market data, so a fresh `make up` has bars to backtest. These are NOT real prices.

    python -m services.catalog.sample_data [--catalog 127.0.0.1:50051] [--symbols AAPL,MSFT] [--start ...]

The catalog's address comes from --catalog, else CATALOG_ADDR, else 127.0.0.1:50051.

Daily bars for familiar tickers (so the API examples run as written) and one
minute-bar symbol, SYNTH1M, with over a million bars to exercise scale. Prices
follow geometric Brownian motion with a plausible drift and volatility per
ticker, split into an overnight gap and an intraday move; highs and lows
straddle open and close; volume rises with the size of the move. Every series
is seeded from (seed, symbol), so reruns produce identical files. A series
already in the catalog is left alone, whatever it holds: it may be real data.
"""

from __future__ import annotations

import argparse
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import grpc
import numpy as np
import pandas as pd

from backtest.v1 import catalog_pb2, catalog_pb2_grpc
from services.adapters.market_data import PARQUET_TYPE, bars_to_parquet
from services.catalog.import_bars import catalog_channel, default_catalog, import_file
from services.domain.timeframes import SESSION_MINUTES, TRADING_DAYS_PER_YEAR

BANNER = "SYNTHETIC sample data (geometric Brownian motion, not real prices)"


@dataclass(frozen=True)
class Profile:
    """How one synthetic ticker behaves.

    price: first open.
    drift: expected annual log-return plus half the variance (GBM mu).
    volatility: annualised standard deviation of log-returns.
    volume: typical shares traded per day.
    """

    price: float
    drift: float
    volatility: float
    volume: float


PROFILES = {
    "AAPL": Profile(price=30.0, drift=0.22, volatility=0.28, volume=8e7),
    "MSFT": Profile(price=28.0, drift=0.19, volatility=0.25, volume=3e7),
    "SPY": Profile(price=113.0, drift=0.11, volatility=0.17, volume=9e7),
    "QQQ": Profile(price=46.0, drift=0.16, volatility=0.21, volume=5e7),
    "GLD": Profile(price=110.0, drift=0.04, volatility=0.15, volume=1e7),
}
MINUTE_SYMBOL, MINUTE_PROFILE = "SYNTH1M", Profile(price=100.0, drift=0.08, volatility=0.20, volume=4e6)
GAP_SHARE = 0.2  # share of a bar's variance that arrives as a gap at its open
SESSION_OPEN = pd.Timedelta(hours=9, minutes=30)  # New York, matching services.domain.timeframes


def daily_bars(symbol: str, start: str, end: str, *, seed: int) -> pd.DataFrame:
    """Business-day bars of `symbol` (a key of PROFILES) from `start` to `end` inclusive."""
    days = pd.bdate_range(start, end, unit="us")
    rng = np.random.default_rng([seed, zlib.crc32(symbol.encode())])
    every_day = np.ones(len(days), dtype=bool)
    return _bars(days, PROFILES[symbol], rng, bars_per_day=1, gaps=every_day, volume_shape=np.ones(1))


def minute_bars(count: int, end: str, *, seed: int) -> pd.DataFrame:
    """At least `count` one-minute bars of MINUTE_SYMBOL: whole New York sessions ending on `end`, as UTC."""
    sessions = pd.bdate_range(end=end, periods=-(-count // SESSION_MINUTES), unit="us")
    # Localise one instant per session (not a million), so daylight saving is honoured cheaply.
    opens = (sessions + SESSION_OPEN).tz_localize("America/New_York").tz_convert("UTC").tz_localize(None)
    minutes = pd.to_timedelta(np.arange(SESSION_MINUTES), unit="min")
    stamps = pd.DatetimeIndex((opens.values[:, None] + minutes.values[None, :]).ravel())
    # Trading is busiest at the open and the close: a U-shaped volume profile over the session.
    shape = 1.0 + 2.0 * np.linspace(-1.0, 1.0, SESSION_MINUTES) ** 2
    rng = np.random.default_rng([seed, zlib.crc32(MINUTE_SYMBOL.encode())])
    session_opens = np.arange(len(stamps)) % SESSION_MINUTES == 0
    return _bars(
        stamps, MINUTE_PROFILE, rng, bars_per_day=SESSION_MINUTES, gaps=session_opens, volume_shape=shape / shape.sum()
    )


def _bars(
    stamps: pd.DatetimeIndex,
    profile: Profile,
    rng: np.random.Generator,
    *,
    bars_per_day: int,
    gaps: np.ndarray,
    volume_shape: np.ndarray,
) -> pd.DataFrame:
    """Consistent OHLCV bars along one GBM path, prices in cents.

    stamps: the bar timestamps.
    profile: drift, volatility, starting price and daily volume.
    rng: the seeded generator.
    bars_per_day: bars in one session; the day's intraday variance is shared among them.
    gaps: which bars open away from the previous close (each day's first), carrying the overnight move.
    volume_shape: each bar's share of a day's volume, repeated over the days.
    """
    n, day = len(stamps), 1.0 / TRADING_DAYS_PER_YEAR
    drift, variance = (profile.drift - profile.volatility**2 / 2) * day, profile.volatility**2 * day
    shocks = rng.standard_normal((3, n))
    gap = gaps * (drift * GAP_SHARE + np.sqrt(variance * GAP_SHARE) * shocks[0])
    sigma = np.sqrt(variance * (1 - GAP_SHARE) / bars_per_day)
    move = drift * (1 - GAP_SHARE) / bars_per_day + sigma * shocks[1]
    log_close = np.log(profile.price) + np.cumsum(gap + move)
    close = np.exp(log_close)
    open_ = np.exp(log_close - move)
    # Extremes beyond the body scale with the bar's volatility (half-normal excursions).
    reach = np.abs(rng.standard_normal((2, n))) * sigma * 0.5
    high = np.maximum(open_, close) * np.exp(reach[0])
    low = np.minimum(open_, close) * np.exp(-reach[1])
    prices = {
        name: np.maximum(np.round(p, 2), 0.01)
        for name, p in zip(("open", "high", "low", "close"), (open_, high, low, close), strict=True)
    }
    # Rounding to cents can push open or close past the rounded extremes: widen them back.
    prices["high"] = np.maximum.reduce([prices["high"], prices["open"], prices["close"]])
    prices["low"] = np.minimum.reduce([prices["low"], prices["open"], prices["close"]])
    volume_shape = np.resize(volume_shape, n)
    volume = profile.volume * volume_shape * np.exp(0.3 * shocks[2]) * (1 + 0.5 * np.abs(shocks[1]))
    return pd.DataFrame({"timestamp": stamps, **prices, "volume": np.round(volume)})


def load(
    stub: catalog_pb2_grpc.CatalogServiceStub,
    *,
    symbols: list[str],
    start: str,
    end: str,
    minute_count: int,
    seed: int = 7,
    prefix: str = "",
    say: Callable[[str], None] = print,
) -> list[str]:
    """Imports each missing synthetic series through UploadBars, streamed as every import; returns what it imported.

    stub: catalog client.
    symbols: daily tickers, keys of PROFILES.
    start: first day of the daily series.
    end: last day of every series.
    minute_count: minimum bars of MINUTE_SYMBOL; 0 skips it.
    seed: base seed; the same seed gives byte-identical files.
    prefix: put before every stored symbol, to keep the samples apart from other data (tests do).
    say: where progress lines go.
    """
    stored = {(s.symbol, s.timeframe) for s in stub.ListSeries(catalog_pb2.ListSeriesRequest())}
    wanted = [(prefix + symbol, "1d", lambda s=symbol: daily_bars(s, start, end, seed=seed)) for symbol in symbols]
    if minute_count > 0:
        wanted.append((prefix + MINUTE_SYMBOL, "1m", lambda: minute_bars(minute_count, end, seed=seed)))
    say(f"{BANNER}: {len(wanted)} series")
    imported = []
    for symbol, timeframe, generate in wanted:
        if (symbol, timeframe) in stored:
            say(f"  {symbol} {timeframe}: already stored, left as is")
            continue
        began = time.perf_counter()
        summary = import_file(stub, symbol, timeframe, bars_to_parquet(generate()), PARQUET_TYPE)
        say(
            f"  {symbol} {timeframe}: imported {summary.rows} synthetic bars {summary.start} .. {summary.end}"
            f" in {time.perf_counter() - began:.1f}s"
        )
        imported.append(f"{symbol}/{timeframe}")
    return imported


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m services.catalog.sample_data", description=BANNER)
    parser.add_argument("--catalog", default=default_catalog(), help="catalog gRPC address (default %(default)s)")
    parser.add_argument("--symbols", default=",".join(PROFILES), help="comma-separated daily tickers")
    parser.add_argument("--start", default="2010-01-01", help="first day of the daily series")
    parser.add_argument("--end", default="2025-12-31", help="last day of every series")
    parser.add_argument("--minute-bars", type=int, default=1_000_000, help=f"{MINUTE_SYMBOL} bars, 0 for none")
    parser.add_argument("--seed", type=int, default=7, help="base random seed")
    parser.add_argument("--prefix", default="", help="put before every stored symbol, e.g. DEMO_")
    args = parser.parse_args(argv)
    symbols = [s.strip() for s in args.symbols.split(",") if s.strip()]
    unknown = sorted(set(symbols) - set(PROFILES))
    if unknown:
        parser.error(f"no synthetic profile for {', '.join(unknown)}; choose from {', '.join(PROFILES)}")
    began = time.perf_counter()
    with catalog_channel(args.catalog) as channel:
        grpc.channel_ready_future(channel).result(timeout=60)  # the catalog may still be starting
        load(
            catalog_pb2_grpc.CatalogServiceStub(channel),
            symbols=symbols,
            start=args.start,
            end=args.end,
            minute_count=args.minute_bars,
            seed=args.seed,
            prefix=args.prefix,
            say=lambda line: print(line, flush=True),
        )
    print(f"sample data ready in {time.perf_counter() - began:.1f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
