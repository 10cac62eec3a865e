"""Results through the gateway with start, end and every: the REST query parameters of equity-curve and trades.

Without them (or with them empty) the answer is the same bytes as ever; with
them it is the inclusive slice of the default answer (trades by entry date),
and every=<bar size> is pandas' resample(...).last() of the Parquet download.
A bad value is a 422 naming the parameter, decided before the first byte.
"""

from __future__ import annotations

import io

import pandas as pd
import pytest

from . import runs, synthetic_bars
from .conftest import import_series
from .contract import assert_conflict, assert_not_found, assert_rejected, error_body

MINUTE_BARS = 20_000  # two weeks of 24-hour minute bars: a run of a few seconds
INVALID_ARGUMENT = 3


@pytest.fixture(scope="module")
def minute_run(api, strategy) -> dict:
    """A completed crossover run over MINUTE_BARS one-minute bars of a series of its own."""
    series = import_series(api, synthetic_bars.unique_symbol(), "1m", synthetic_bars.minutes(MINUTE_BARS))
    return runs.run_to_completion(
        api, strategy["id"], series.config(signal_plugin_params={"fast_period": 3, "slow_period": 9})
    )


def body(api, path: str, **params) -> bytes:
    response = api.get(path, params=params or None)
    assert response.status == 200, response
    assert response.headers["content-type"] == "application/json"
    return response.body


def curve_parquet(api, backtest_id: str) -> pd.Series:
    response = api.get(f"/backtests/{backtest_id}/equity-curve/parquet")
    assert response.status == 200, response
    return pd.read_parquet(io.BytesIO(response.body))["equity"]


@pytest.mark.parametrize("what", ["equity-curve", "trades"])
def test_without_parameters_or_with_empty_ones_the_answer_is_unchanged(api, completed, minute_run, what) -> None:
    for run in (completed, minute_run):
        path = f"/backtests/{run['id']}/{what}"
        default = api.get(path)
        assert default.status == 200 and default.headers["content-type"] == "application/json"
        assert "content-length" not in default.headers  # still streamed
        empty = {"start": "", "end": ""} | ({"every": ""} if what == "equity-curve" else {})
        assert body(api, path, **empty) == default.body
        assert default.body.startswith(b"[{") and default.body.endswith(b"}]")


def test_a_curve_window_is_the_inclusive_slice_of_the_whole_curve(api, minute_run) -> None:
    path = f"/backtests/{minute_run['id']}/equity-curve"
    whole = api.get(path).json()
    start, end = whole[5000]["date"], whole[12_345]["date"]
    assert body(api, path, start=start, end=end) == body(api, path, start=start, end=end)  # stable
    got = api.get(path, params={"start": start, "end": end}).json()
    assert got == whole[5000:12_346]
    assert api.get(path, params={"start": start, "end": start}).json() == [whole[5000]]
    assert api.get(path, params={"start": "2100-01-01"}).json() == []
    assert api.get(path, params={"end": start}).json() == whole[:5001]


@pytest.mark.parametrize(("every", "rule"), [("5m", "5min"), ("1h", "1h"), ("1d", "1D")])
def test_every_is_resample_last_of_the_parquet_download(api, minute_run, every, rule) -> None:
    curve = curve_parquet(api, minute_run["id"])
    values = curve.resample(rule).last().dropna()
    dates = curve.index.to_series().resample(rule).last().dropna()
    expected = [{"date": d.isoformat(), "equity": v} for d, v in zip(dates, values.tolist(), strict=True)]
    got = api.get(f"/backtests/{minute_run['id']}/equity-curve", params={"every": every}).json()
    assert got == expected


def test_trades_are_chosen_by_entry_date(api, minute_run) -> None:
    path = f"/backtests/{minute_run['id']}/trades"
    whole = api.get(path).json()
    assert len(whole) > 20
    start, end = whole[5]["entry_date"], whole[-6]["entry_date"]
    assert api.get(path, params={"start": start, "end": end}).json() == whole[5:-5]
    assert api.get(path, params={"start": "2100-01-01"}).json() == []


@pytest.mark.parametrize(
    ("what", "params", "field"),
    [
        ("equity-curve", {"start": "soon"}, "start"),
        ("equity-curve", {"end": "2022-02-30"}, "end"),
        ("equity-curve", {"start": "2022-01-10", "end": "2022-01-05"}, "end"),
        ("equity-curve", {"every": "7m"}, "every"),
        ("trades", {"start": "2022-01-03T25:00"}, "start"),
        ("trades", {"start": "2022-01-10", "end": "2022-01-05"}, "end"),
    ],
)
def test_bad_values_are_422_naming_the_parameter_even_for_an_unknown_backtest(api, completed, what, params, field):
    for backtest_id in (completed["id"], runs.missing_id()):
        response = api.get(f"/backtests/{backtest_id}/{what}", params=params)
        assert_rejected(response, field)
        assert response.headers["content-type"].startswith("application/json")


def test_every_is_not_a_parameter_of_trades(api, completed) -> None:
    error_body(api.get(f"/backtests/{completed['id']}/trades", params={"every": "1d"}), 400, INVALID_ARGUMENT)


@pytest.mark.parametrize("what", ["equity-curve", "trades"])
def test_a_good_window_keeps_404_and_409(api, strategy, daily, what) -> None:
    missing = runs.missing_id()
    assert_not_found(api.get(f"/backtests/{missing}/{what}", params={"start": "2021-01-01"}), missing)
    pending = runs.create_backtest(api, strategy["id"], daily.config())
    assert_conflict(api.get(f"/backtests/{pending['id']}/{what}", params={"end": "2022-01-01"}))
