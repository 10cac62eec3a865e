"""Results: equity curve and trades as JSON and as Parquet downloads; 404 unknown, 409 unless completed."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from . import runs
from .contract import EQUITY_POINT_FIELDS, TRADE_FIELDS, assert_conflict, assert_not_found, assert_rejected

RESULT_PATHS = ["equity-curve", "equity-curve/parquet", "trades", "trades/parquet"]


@pytest.fixture(scope="module")
def by_engine(api, strategy, daily, completed) -> dict[str, dict]:
    """engine -> a completed crossover run over the whole daily series."""
    return {
        "vectorbt": completed,
        "backtrader": runs.run_to_completion(api, strategy["id"], daily.config(), engine="backtrader"),
    }


@pytest.fixture(scope="module")
def held_to_the_end(api, strategy, daily) -> dict:
    """A completed buy-and-hold run: its one trade is still open at the end."""
    config = daily.config(signal_plugin_key="buy_and_hold", signal_plugin_params={})
    return runs.run_to_completion(api, strategy["id"], config)


def get_json(api, backtest_id: str, what: str) -> list[dict]:
    response = api.get(f"/backtests/{backtest_id}/{what}")
    assert response.status == 200, response
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def download(api, backtest_id: str, what: str, filename: str) -> pd.DataFrame:
    """GET the Parquet file; checks it is an attachment named `filename` and reads it with pandas."""
    response = api.get(f"/backtests/{backtest_id}/{what}/parquet")
    assert response.status == 200, response
    assert response.headers["content-disposition"] == f"attachment; filename={filename}"
    return pd.read_parquet(io.BytesIO(response.body))


@pytest.mark.parametrize("engine", ["vectorbt", "backtrader"])
def test_equity_curve_has_one_point_per_bar(api, daily, by_engine, engine) -> None:
    run = by_engine[engine]
    curve = get_json(api, run["id"], "equity-curve")
    config = run["config"]
    in_range = daily.frame.index[
        (daily.frame.index >= config["start_date"]) & (daily.frame.index <= config["end_date"])
    ]
    assert len(curve) == daily.bars_between(config["start_date"], config["end_date"]) == len(in_range)
    assert all(set(point) == EQUITY_POINT_FIELDS for point in curve)
    assert [p["date"] for p in curve] == [d.strftime("%Y-%m-%d") for d in in_range]
    assert curve[0]["equity"] == pytest.approx(run["initial_capital"])  # flat before the slow average exists
    final = run["initial_capital"] * (1 + run["metrics"]["total_return"])
    assert curve[-1]["equity"] == pytest.approx(final, rel=1e-9)


@pytest.mark.parametrize("engine", ["vectorbt", "backtrader"])
def test_trades_are_round_trips_adding_up_to_the_equity_change(api, by_engine, engine) -> None:
    run = by_engine[engine]
    trades = get_json(api, run["id"], "trades")
    assert len(trades) == run["metrics"]["trade_total_trades"] > 0
    for trade in trades:
        assert TRADE_FIELDS <= set(trade), f"missing: {sorted(TRADE_FIELDS - set(trade))}"
        assert trade["side"] in ("long", "short") and trade["status"] in ("closed", "open")
        assert trade["size"] > 0 and trade["entry_price"] > 0 and trade["exit_price"] > 0
        if trade["status"] == "closed":
            assert trade["exit_date"] >= trade["entry_date"]
    assert [t["entry_date"] for t in trades] == sorted(t["entry_date"] for t in trades)
    change = run["initial_capital"] * run["metrics"]["total_return"]
    assert sum(t["pnl"] for t in trades) == pytest.approx(change, abs=1e-3)


def test_open_trade_is_listed_open_with_a_null_exit_date(api, daily, held_to_the_end) -> None:
    (trade,) = get_json(api, held_to_the_end["id"], "trades")
    assert trade["status"] == "open"
    assert trade["exit_price"] == pytest.approx(daily.frame["close"].iloc[-1])
    # Absent means null: Trade.exit_date is a proto3 optional field (docs/api.md "Where we differ").
    assert trade.get("exit_date") is None


@pytest.mark.parametrize("engine", ["vectorbt", "backtrader"])
def test_equity_parquet_has_a_date_index_and_an_equity_column(api, by_engine, engine) -> None:
    run = by_engine[engine]
    frame = download(api, run["id"], "equity-curve", f"equity_{run['id']}.parquet")
    curve = get_json(api, run["id"], "equity-curve")
    assert frame.index.name == "date"
    assert list(frame.columns) == ["equity"]
    assert [d.strftime("%Y-%m-%d") for d in pd.to_datetime(frame.index)] == [p["date"] for p in curve]
    assert frame["equity"].tolist() == pytest.approx([p["equity"] for p in curve])


@pytest.mark.parametrize("engine", ["vectorbt", "backtrader"])
def test_trades_parquet_has_no_index_and_the_trade_columns(api, by_engine, engine) -> None:
    run = by_engine[engine]
    frame = download(api, run["id"], "trades", f"trades_{run['id']}.parquet")
    trades = get_json(api, run["id"], "trades")
    assert isinstance(frame.index, pd.RangeIndex)
    assert TRADE_FIELDS <= set(frame.columns)
    assert len(frame) == len(trades)
    assert frame["pnl"].tolist() == pytest.approx([t["pnl"] for t in trades])
    assert frame["side"].tolist() == [t["side"] for t in trades]
    assert [d.strftime("%Y-%m-%d") for d in pd.to_datetime(frame["entry_date"])] == [t["entry_date"] for t in trades]


def test_open_trade_parquet_has_no_exit_date(api, held_to_the_end) -> None:
    frame = download(api, held_to_the_end["id"], "trades", f"trades_{held_to_the_end['id']}.parquet")
    assert frame["status"].tolist() == ["open"]
    assert frame["exit_date"].isna().all()


@pytest.mark.parametrize("what", RESULT_PATHS)
def test_results_of_an_unknown_backtest_are_404(api, what) -> None:
    missing = runs.missing_id()
    assert_not_found(api.get(f"/backtests/{missing}/{what}"), missing)


@pytest.fixture(scope="module")
def not_completed(api, strategy, daily, no_data_symbol) -> dict[str, str]:
    """status -> id of a backtest in that status."""
    pending = runs.create_backtest(api, strategy["id"], daily.config())
    failed = runs.create_backtest(api, strategy["id"], daily.config(symbol=no_data_symbol))
    assert runs.execute(api, failed["id"])["status"] == "failed"
    return {"pending": pending["id"], "failed": failed["id"]}


@pytest.mark.parametrize("status", ["pending", "failed"])
@pytest.mark.parametrize("what", RESULT_PATHS)
def test_results_of_a_backtest_not_completed_are_409(api, not_completed, status, what) -> None:
    assert_conflict(api.get(f"/backtests/{not_completed[status]}/{what}"))


def test_a_market_data_object_cannot_be_patched_in_as_a_result(api, strategy, daily, completed) -> None:
    # Regression: the PATCH check only looked at the bucket, so equity_curve_uri could name
    # the stored bars and /equity-curve/parquet served them as this run's curve.
    run = runs.run_to_completion(api, strategy["id"], daily.config())
    root = "/".join(completed["trades_uri"].split("/", 3)[:3])
    for alias in (f"{root}/market-data/{daily.symbol}/1d.parquet", f"{root}/artifacts/../market-data/x.parquet"):
        response = api.patch(f"/backtests/{run['id']}", {"equity_curve_uri": alias})
        assert_rejected(response, "equity_curve_uri")
    assert runs.get_backtest(api, run["id"])["equity_curve_uri"] == run["equity_curve_uri"]
    download = api.get(f"/backtests/{run['id']}/equity-curve/parquet")
    assert download.status == 200 and pd.read_parquet(io.BytesIO(download.body)).columns.tolist() == ["equity"]


def test_results_of_a_completed_run_patched_to_a_missing_artifact_are_409(api, strategy, daily, completed) -> None:
    run = runs.run_to_completion(api, strategy["id"], daily.config())
    root = "/".join(completed["trades_uri"].split("/", 3)[:3])
    patched = api.patch(f"/backtests/{run['id']}", {"trades_uri": f"{root}/artifacts/missing/{run['id']}.parquet"})
    assert patched.status == 200, patched
    assert_conflict(api.get(f"/backtests/{run['id']}/trades"))
    assert_conflict(api.get(f"/backtests/{run['id']}/trades/parquet"))
    assert api.get(f"/backtests/{run['id']}/equity-curve").status == 200
