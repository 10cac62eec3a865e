"""Bad input: 422 with a google.rpc.Status body whose BadRequest names the field, and nothing changes.

Never a 500. "Nothing changes" is checked by listing before and after.
"""

from __future__ import annotations

from typing import Any

import pytest

from . import runs
from .contract import assert_rejected

BAD_MALFORMED_ID = "not-a-uuid"


# (id, changes to a valid create request, field the 422 must name)
BAD_CREATES = [
    ("unknown-engine", {"engine": "zipline"}, "engine"),
    ("unknown-plugin", {"config.signal_plugin_key": "magic_signal"}, "config.signal_plugin_key"),
    (
        "fast-equals-slow",
        {"config.signal_plugin_params": {"fast_period": 20, "slow_period": 20}},
        "config.signal_plugin_params",
    ),
    (
        "fast-above-slow",
        {"config.signal_plugin_params": {"fast_period": 50, "slow_period": 10}},
        "config.signal_plugin_params",
    ),
    (
        "fractional-period",
        {"config.signal_plugin_params": {"fast_period": 5.5, "slow_period": 20}},
        "config.signal_plugin_params.fast_period",
    ),
    (
        "string-period",
        {"config.signal_plugin_params": {"fast_period": "5", "slow_period": 20}},
        "config.signal_plugin_params.fast_period",
    ),
    (
        "negative-period",
        {"config.signal_plugin_params": {"fast_period": -5, "slow_period": 20}},
        "config.signal_plugin_params.fast_period",
    ),
    (
        "negative-slow",
        {"config.signal_plugin_params": {"fast_period": 5, "slow_period": -20}},
        "config.signal_plugin_params.slow_period",
    ),
    (
        "unknown-plugin-param",
        {"config.signal_plugin_params": {"fast_period": 5, "slow_period": 20, "speed": 3}},
        "config.signal_plugin_params.speed",
    ),
    (
        "start-after-end",
        {"config.start_date": "2022-06-01T00:00:00", "config.end_date": "2022-01-01T00:00:00"},
        "config.end_date",
    ),
    ("start-equals-end", {"config.start_date": "2022-01-03", "config.end_date": "2022-01-03"}, "config.end_date"),
    ("unparseable-start", {"config.start_date": "2021-13-45"}, "config.start_date"),
    ("unparseable-end", {"config.end_date": "next tuesday"}, "config.end_date"),
    ("zero-capital", {"initial_capital": 0}, "initial_capital"),
    ("negative-capital", {"initial_capital": -1000.0}, "initial_capital"),
    ("commission-above", {"commission": 0.1001}, "commission"),
    ("commission-negative", {"commission": -0.0001}, "commission"),
    ("slippage-above", {"slippage": 0.5}, "slippage"),
    ("slippage-negative", {"slippage": -0.01}, "slippage"),
    ("zero-bars-per-year", {"config.bars_per_year": 0}, "config.bars_per_year"),
    ("negative-bars-per-year", {"config.bars_per_year": -252}, "config.bars_per_year"),
    ("bad-size-type", {"config.size_type": "lots"}, "config.size_type"),
    ("model-id", {"config.model_id": "xgb-7"}, "config.model_id"),
    ("feature-ids", {"config.feature_ids": ["rsi_14"]}, "config.feature_ids"),
    ("signal-logic-id", {"config.signal_logic_id": "logic-1"}, "config.signal_logic_id"),
    ("malformed-strategy-id", {"strategy_id": BAD_MALFORMED_ID}, "strategy_id"),
    ("missing-config", {"config": None}, "config"),
    ("missing-symbol", {"config.symbol": None}, "config.symbol"),
    ("unknown-timeframe", {"config.timeframe": "2d"}, "config.timeframe"),
]


def apply(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A copy of the create request `base` with `changes`; a None value drops the key."""
    body = {**base, "config": dict(base["config"])}
    for key, value in changes.items():
        target, name = (body["config"], key[len("config.") :]) if key.startswith("config.") else (body, key)
        if value is None:
            target.pop(name, None)
        else:
            target[name] = value
    return body


def everything_of(api, strategy_id: str) -> tuple[list, list]:
    """What a bad request must not change: the strategy's backtests and the ids of the newest overall."""
    newest = api.get("/backtests", params={"limit": 5}).json()
    return runs.list_backtests(api, strategy_id), [b["id"] for b in newest]


@pytest.mark.parametrize("changes, field", [c[1:] for c in BAD_CREATES], ids=[c[0] for c in BAD_CREATES])
def test_bad_create_is_422_naming_the_field_and_creates_nothing(api, strategy, daily, changes, field) -> None:
    body = apply({"strategy_id": strategy["id"], "config": daily.config()}, changes)
    before = everything_of(api, strategy["id"])
    assert_rejected(api.post("/backtests", body), field)
    assert everything_of(api, strategy["id"]) == before


def test_every_violation_is_named_at_once(api, strategy, daily) -> None:
    body = apply(
        {"strategy_id": strategy["id"], "config": daily.config()},
        {"engine": "zipline", "initial_capital": -1, "config.size_type": "lots", "config.model_id": "m"},
    )
    for field in ("engine", "initial_capital", "config.size_type", "config.model_id"):
        assert_rejected(api.post("/backtests", body), field)


# Every path that takes an id, with the name of its path parameter.
ID_PATHS = [
    ("GET", "/backtests/{id}", "backtest_id"),
    ("PATCH", "/backtests/{id}", "backtest_id"),
    ("DELETE", "/backtests/{id}", "backtest_id"),
    ("POST", "/backtests/{id}/execute", "backtest_id"),
    ("POST", "/backtests/{id}/execute/async", "backtest_id"),
    ("GET", "/backtests/{id}/equity-curve", "backtest_id"),
    ("GET", "/backtests/{id}/equity-curve/parquet", "backtest_id"),
    ("GET", "/backtests/{id}/trades", "backtest_id"),
    ("GET", "/backtests/{id}/trades/parquet", "backtest_id"),
    ("GET", "/tasks/{id}", "task_id"),
    ("GET", "/strategies/{id}", "strategy_id"),
    ("DELETE", "/strategies/{id}", "strategy_id"),
]


@pytest.mark.parametrize("method, path, field", ID_PATHS, ids=[f"{m} {p}" for m, p, _ in ID_PATHS])
@pytest.mark.parametrize("bad_id", ["not-a-uuid", "1234", "6df1c8ff-f5e3-465f-af17-34fe2f59ef0g"])
def test_malformed_path_ids_are_422(api, method, path, field, bad_id) -> None:
    body = {} if method in ("POST", "PATCH") else None
    assert_rejected(api.request(method, path.format(id=bad_id), json_body=body), field)


def test_malformed_list_filter_is_422(api) -> None:
    assert_rejected(api.get("/backtests", params={"strategy_id": BAD_MALFORMED_ID}), "strategy_id")


def test_malformed_ids_in_bodies_are_422(api, strategy, daily) -> None:
    assert_rejected(
        api.post("/backtests/compare", {"backtest_ids": [runs.missing_id(), BAD_MALFORMED_ID]}), "backtest_ids"
    )
    sweep = {"strategy_id": BAD_MALFORMED_ID, "base_config": daily.config(), "param_grid": [{}]}
    assert_rejected(api.post("/backtests/sweep", sweep), "strategy_id")


@pytest.fixture(scope="module")
def patch_target(api, strategy, daily) -> dict[str, Any]:
    """A pending backtest the bad PATCHes aim at."""
    return runs.create_backtest(api, strategy["id"], daily.config())


@pytest.mark.parametrize(
    "body, field",
    [
        ({"status": "done"}, "status"),
        ({"status": "PENDING"}, "status"),
        ({"status": "cancelled"}, "status"),
        ({"status": ""}, "status"),
        ({"trades_uri": "https://example.com/trades.parquet"}, "trades_uri"),
        ({"trades_uri": "file:///etc/passwd"}, "trades_uri"),
        ({"trades_uri": "s3://some-other-bucket/trades.parquet"}, "trades_uri"),
        ({"trades_uri": "artifacts/trades.parquet"}, "trades_uri"),
        ({"equity_curve_uri": "http://169.254.169.254/latest/meta-data"}, "equity_curve_uri"),
        ({"equity_curve_uri": "s3://"}, "equity_curve_uri"),
        ({"status": "failed", "trades_uri": "ftp://x/y"}, "trades_uri"),
    ],
    ids=[
        "status-done",
        "status-upper",
        "status-cancelled",
        "status-empty",
        "https-uri",
        "file-uri",
        "other-bucket",
        "relative-uri",
        "metadata-endpoint",
        "bare-scheme",
        "valid-status-bad-uri",
    ],
)
def test_bad_patch_is_422_and_changes_nothing(api, patch_target, body, field) -> None:
    before = runs.get_backtest(api, patch_target["id"])
    assert_rejected(api.patch(f"/backtests/{patch_target['id']}", body), field)
    assert runs.get_backtest(api, patch_target["id"]) == before


def test_patch_uri_of_the_store_root_without_a_key_is_422(api, patch_target, completed) -> None:
    bucket_root = "/".join(completed["trades_uri"].split("/", 3)[:3]) + "/"
    before = runs.get_backtest(api, patch_target["id"])
    assert_rejected(api.patch(f"/backtests/{patch_target['id']}", {"trades_uri": bucket_root}), "trades_uri")
    assert runs.get_backtest(api, patch_target["id"]) == before
