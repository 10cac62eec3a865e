import pandas as pd
import pytest

from services.domain.dates import parse_date
from services.domain.timeframes import TIMEFRAMES, default_bars_per_year


def test_bars_per_year_of_each_timeframe():
    # 252 sessions a year; a session is 6.5 h = 390 minutes, printed as 7 hourly bars.
    assert {k: tf.bars_per_year for k, tf in TIMEFRAMES.items()} == {
        "1m": 252 * 390,
        "5m": 252 * 78,
        "15m": 252 * 26,
        "1h": 252 * 7,
        "1d": 252,
        "1w": 52,
    }
    assert default_bars_per_year("1d") == 252


def test_pandas_offsets_are_valid():
    for tf in TIMEFRAMES.values():
        pd.tseries.frequencies.to_offset(tf.pandas_freq)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2020-01-01T00:00:00", "2020-01-01 00:00:00"),
        ("2020-01-01", "2020-01-01 00:00:00"),
        ("2020-01-01 09:30", "2020-01-01 09:30:00"),
        ("2020-01-01T02:00:00+02:00", "2020-01-01 00:00:00"),
        ("2019-12-31T19:00:00-05:00", "2020-01-01 00:00:00"),
        ("2020-01-01T00:00:00Z", "2020-01-01 00:00:00"),
        (" 2020-01-01 ", "2020-01-01 00:00:00"),
    ],
)
def test_parse_date_gives_naive_utc(text, expected):
    parsed = parse_date(text)
    assert parsed == pd.Timestamp(expected)
    assert parsed.tz is None


@pytest.mark.parametrize("text", ["", "garbage", "today", "2020-13-01", "2020-02-30", "01/02/2020", 20200101, None])
def test_parse_date_rejects_garbage(text):
    with pytest.raises(ValueError):
        parse_date(text)
