"""Input a database or a JSON printer cannot hold: 422 naming the field, never a 500, nothing stored.

Regression tests for schemathesis' finding (a NUL character in a strategy
name answered 500 from PostgreSQL) and its siblings: JSON numbers that
overflow to infinity (1e999) inside google.protobuf.Struct fields and typed
doubles, and text over the 65,536-character limit. One guard in front of
every public RPC rejects them all (services/kit/request_guard.py).
"""

from __future__ import annotations

import pytest

from . import runs
from .contract import assert_rejected, error_body

TOO_LONG = "x" * 65_537


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": "\u0000trend"}, "name"),
        ({"name": "ok", "description": "a\u0000b"}, "description"),
        ({"name": "ok", "universe": ["AAPL", "MS\u0000FT"]}, "universe"),
        ({"name": "ok", "params": {"k": "v\u0000"}}, "params.k"),
        ({"name": TOO_LONG}, "name"),
    ],
    ids=["nul-name", "nul-description", "nul-universe", "nul-struct", "too-long"],
)
def test_strategy_text_the_database_cannot_hold_is_422(api, body, field) -> None:
    before = len(api.get("/strategies", params={"limit": 1000}).json())
    assert_rejected(api.post("/strategies", body), field)
    assert len(api.get("/strategies", params={"limit": 1000}).json()) == before


def test_an_overflowing_number_in_a_typed_field_is_400_from_the_transcoder(api, strategy) -> None:
    # A double field cannot hold 1e999: the JSON parse fails first (Envoy's and the local gateway's alike).
    body = f'{{"strategy_id": "{strategy["id"]}", "initial_capital": 1e999, "config": {{}}}}'
    error_body(api.request("POST", "/backtests", body=body.encode(), content_type="application/json"), 400, 3)


def test_an_overflowing_number_in_a_struct_is_422(api, strategy) -> None:
    # A Struct number is a double too, but the JSON parse keeps infinity there: the guard names it.
    config = (
        '{"symbol": "AAPL", "timeframe": "1d", "start_date": "2020-01-01", "end_date": "2021-01-01",'
        ' "signal_plugin_key": "crossover_signal", "signal_plugin_params": {"fast_period": 1e999, "slow_period": 50}}'
    )
    body = f'{{"strategy_id": "{strategy["id"]}", "config": {config}}}'
    response = api.request("POST", "/backtests", body=body.encode(), content_type="application/json")
    assert_rejected(response, "config.signal_plugin_params.fast_period")


def test_patched_metrics_with_an_overflowing_number_are_422_and_change_nothing(api, strategy, daily) -> None:
    created = runs.create_backtest(api, strategy["id"], daily.config())
    body = b'{"metrics": {"perf_sharpe_ratio": -1e999}}'
    assert_rejected(
        api.request("PATCH", f"/backtests/{created['id']}", body=body, content_type="application/json"),
        "metrics.perf_sharpe_ratio",
    )
    assert runs.get_backtest(api, created["id"])["metrics"] == {}


def test_sweep_overrides_are_checked_per_entry(api, strategy, daily) -> None:
    body = {
        "strategy_id": strategy["id"],
        "base_config": daily.config(),
        "param_grid": [{"commission": 0.001}, {"x": "\u0000"}],
    }
    assert_rejected(api.post("/backtests/sweep", body), "param_grid[1].x")
