"""Bar sizes the platform stores, and how many bars of each make a year.

`bars_per_year` annualises per-bar statistics (CAGR, Sharpe, volatility), so
it should count the bars a year of stored data actually holds. We assume
equity-market data: 252 trading days a year and a 6.5-hour regular session
(09:30-16:00 New York). A user trading 24/7 markets overrides
`config.bars_per_year` instead of us guessing the venue.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.domain.errors import ValidationError

TRADING_DAYS_PER_YEAR = 252
SESSION_MINUTES = 390  # 6.5 hours


@dataclass(frozen=True)
class Timeframe:
    """One bar size.

    key: the name used in configs and market-data paths, e.g. "1h".
    pandas_freq: the matching pandas offset alias, for resampling and ranges.
    bars_per_year: default annualisation factor for this bar size.
    """

    key: str
    pandas_freq: str
    bars_per_year: int


TIMEFRAMES: dict[str, Timeframe] = {
    tf.key: tf
    for tf in (
        Timeframe("1m", "1min", TRADING_DAYS_PER_YEAR * SESSION_MINUTES),  # 390 a day: 98280
        Timeframe("5m", "5min", TRADING_DAYS_PER_YEAR * SESSION_MINUTES // 5),  # 78 a day: 19656
        Timeframe("15m", "15min", TRADING_DAYS_PER_YEAR * SESSION_MINUTES // 15),  # 26 a day: 6552
        # 6.5 hours do not divide into whole hours: vendors print 7 hourly bars a
        # session (the first or the last one a half hour), so a year holds
        # 252 * 7 = 1764 bars, not 252 * 6.5 = 1638.
        Timeframe("1h", "1h", TRADING_DAYS_PER_YEAR * 7),
        Timeframe("1d", "1D", TRADING_DAYS_PER_YEAR),
        Timeframe("1w", "1W", 52),
    )
}


def check_timeframe(text: object, field: str = "timeframe") -> str:
    """`text` when it names a bar size of TIMEFRAMES; otherwise a ValidationError naming `field`.

    text: the value as received.
    field: dotted path of the value in the request, e.g. "config.timeframe".
    """
    if not isinstance(text, str) or text not in TIMEFRAMES:
        raise ValidationError.single(field, f"{text!r} is not one of {', '.join(TIMEFRAMES)}")
    return text


def default_bars_per_year(timeframe: str) -> int:
    """Annualisation factor of `timeframe` (a key of TIMEFRAMES); KeyError if unknown."""
    return TIMEFRAMES[timeframe].bars_per_year
