"""Backtest CRUD: POST 201 with the seed's defaults, list (filter, order, paging), GET, PATCH, DELETE."""

from __future__ import annotations

import pytest

from . import runs
from .contract import (
    BACKTEST_DEFAULTS,
    BACKTEST_FIELDS,
    CONFIG_DEFAULTS_1D,
    STATUSES,
    assert_conflict,
    assert_not_found,
    assert_rejected,
    is_timestamp,
    is_uuid,
    parse_timestamp,
    seed_example,
)


@pytest.fixture(scope="module")
def seed_created(api, strategy, daily) -> tuple[dict, dict]:
    """(request, 201 response) of the seed's create example."""
    request = seed_example(strategy["id"], daily.symbol)
    response = api.post("/backtests", request)
    assert response.status == 201, response
    return request, response.json()


def test_seed_create_example_is_201_pending_with_the_request_echoed(seed_created) -> None:
    request, created = seed_created
    assert is_uuid(created["id"])
    assert created["status"] == "pending"
    for key in ("strategy_id", "engine", "initial_capital", "commission", "slippage"):
        assert created[key] == request[key], key
    config = created["config"]
    for key, value in request["config"].items():
        if key == "signal_plugin_params":
            assert value.items() <= config[key].items()
        else:
            assert config[key] == value, key
    assert is_timestamp(created["created_at"]) and is_timestamp(created["updated_at"])


def test_created_backtest_carries_every_seed_field(seed_created) -> None:
    """BacktestRead: metrics is an empty dict and both URIs are null until a run completes."""
    _, created = seed_created
    assert BACKTEST_FIELDS <= set(created), f"missing: {sorted(BACKTEST_FIELDS - set(created))}"
    assert created["metrics"] == {}
    # Present and null, as the seed's `string | null`: `r["trades_uri"]` works in a seed client.
    assert created["trades_uri"] is None
    assert created["equity_curve_uri"] is None


def test_artifact_uris_are_null_until_completed_in_every_response(api, strategy, daily) -> None:
    created = runs.create_backtest(api, strategy["id"], daily.config())
    responses = {
        "create": created,
        "get": runs.get_backtest(api, created["id"]),
        "list": next(b for b in runs.list_backtests(api, strategy["id"]) if b["id"] == created["id"]),
        "patch": api.patch(f"/backtests/{created['id']}", {"status": "pending"}).json(),
    }
    for name, body in responses.items():
        assert body["trades_uri"] is None and body["equity_curve_uri"] is None, (name, body)
    done = runs.execute(api, created["id"])
    assert done["trades_uri"].startswith("s3://") and done["equity_curve_uri"].startswith("s3://")


def test_omitted_fields_take_the_seed_defaults(api, strategy, daily) -> None:
    config = {k: daily.config()[k] for k in ("symbol", "timeframe", "start_date", "end_date", "signal_plugin_key")}
    created = runs.create_backtest(api, strategy["id"], config)
    for key, value in BACKTEST_DEFAULTS.items():
        assert created[key] == value, key
    for key, value in CONFIG_DEFAULTS_1D.items():
        assert created["config"][key] == value, key


def test_get_returns_the_created_record(api, seed_created) -> None:
    _, created = seed_created
    fetched = runs.get_backtest(api, created["id"])
    assert {k: fetched.get(k) for k in created} == created
    assert fetched.get("structured_metrics") is None


def test_get_completed_adds_structured_metrics(completed) -> None:
    assert completed["status"] == "completed"
    assert set(completed["structured_metrics"]) >= {"total_return", "bars_in_market", "performance", "risk", "trading"}
    assert completed["trades_uri"].startswith("s3://") and completed["equity_curve_uri"].startswith("s3://")


def test_get_unknown_is_404(api) -> None:
    missing = runs.missing_id()
    assert_not_found(api.get(f"/backtests/{missing}"), missing)


def test_list_filters_by_strategy_newest_first(api, fresh_strategy, daily) -> None:
    made = [runs.create_backtest(api, fresh_strategy["id"], daily.config()) for _ in range(3)]
    response = api.get("/backtests", params={"strategy_id": fresh_strategy["id"]})
    assert response.status == 200, response
    listed = response.json()
    assert [b["id"] for b in listed] == [b["id"] for b in reversed(made)]
    assert listed[-1] == made[0]


def test_list_without_filter_is_newest_first_across_strategies(api, fresh_strategy, strategy, daily) -> None:
    older = runs.create_backtest(api, strategy["id"], daily.config())
    newer = runs.create_backtest(api, fresh_strategy["id"], daily.config())
    listed = api.get("/backtests", params={"limit": 1000}).json()
    ids = [b["id"] for b in listed]
    assert ids.index(newer["id"]) < ids.index(older["id"])
    stamps = [parse_timestamp(b["created_at"]) for b in listed]
    assert stamps == sorted(stamps, reverse=True)


def test_list_pages_with_skip_and_limit(api, fresh_strategy, daily) -> None:
    made = [runs.create_backtest(api, fresh_strategy["id"], daily.config()) for _ in range(3)]
    newest_first = [b["id"] for b in reversed(made)]

    def page(**params):
        response = api.get("/backtests", params={"strategy_id": fresh_strategy["id"], **params})
        assert response.status == 200, response
        return [b["id"] for b in response.json()]

    assert page(limit=2) == newest_first[:2]
    assert page(skip=1, limit=1) == newest_first[1:2]
    assert page(skip=2) == newest_first[2:]
    assert page(skip=3) == []


def test_list_returns_100_by_default_and_up_to_1000(api, fresh_strategy, daily) -> None:
    config = daily.config()
    for _ in range(101):
        runs.create_backtest(api, fresh_strategy["id"], config)
    assert len(api.get("/backtests", params={"strategy_id": fresh_strategy["id"]}).json()) == 100
    assert len(api.get("/backtests", params={"strategy_id": fresh_strategy["id"], "limit": 1000}).json()) == 101
    assert len(api.get("/backtests").json()) <= 100


@pytest.mark.parametrize("params, field", [({"limit": 0}, "limit"), ({"limit": 1001}, "limit"), ({"skip": -1}, "skip")])
def test_list_paging_out_of_range_is_422(api, params, field) -> None:
    assert_rejected(api.get("/backtests", params=params), field)


def test_list_of_an_unknown_strategy_is_empty(api) -> None:
    response = api.get("/backtests", params={"strategy_id": runs.missing_id()})
    assert response.status == 200, response
    assert response.json() == []


@pytest.mark.parametrize("status", STATUSES)
def test_patch_status(api, strategy, daily, status) -> None:
    created = runs.create_backtest(api, strategy["id"], daily.config())
    response = api.patch(f"/backtests/{created['id']}", {"status": status})
    try:
        assert response.status == 200, response
        patched = response.json()
        assert patched["status"] == status
        assert patched["id"] == created["id"] and patched["config"] == created["config"]
        assert runs.get_backtest(api, created["id"])["status"] == status
    finally:
        # Nothing executes a record PATCHed to "running": never leave one behind
        # for tests that wait for every running backtest to settle.
        api.patch(f"/backtests/{created['id']}", {"status": "pending"})


def test_patch_resets_a_stuck_running_record_to_pending(api, strategy, daily) -> None:
    """The seed's use of PATCH: a record left "running" refuses execution until reset."""
    created = runs.create_backtest(api, strategy["id"], daily.config())
    assert api.patch(f"/backtests/{created['id']}", {"status": "running"}).status == 200
    try:
        assert_conflict(api.post(f"/backtests/{created['id']}/execute", {}))
    finally:
        assert api.patch(f"/backtests/{created['id']}", {"status": "pending"}).status == 200
    assert runs.execute(api, created["id"])["status"] == "completed"


def test_patch_metrics_and_uris_inside_the_store(api, strategy, daily, completed) -> None:
    bucket_prefix = completed["trades_uri"].split("/", 3)[:3]  # s3:, "", <bucket>
    root = "/".join(bucket_prefix)
    created = runs.create_backtest(api, strategy["id"], daily.config())
    body = {
        "metrics": {"perf_sharpe_ratio": 1.5, "note": "admin fix"},
        "trades_uri": f"{root}/artifacts/corrections/{created['id']}/trades.parquet",
        "equity_curve_uri": f"{root}/artifacts/corrections/{created['id']}/equity.parquet",
    }
    response = api.patch(f"/backtests/{created['id']}", body)
    assert response.status == 200, response
    patched = response.json()
    for key, value in body.items():
        assert patched[key] == value, key
    assert patched["status"] == "pending"
    assert parse_timestamp(patched["updated_at"]) >= parse_timestamp(created["updated_at"])
    fetched = runs.get_backtest(api, created["id"])
    assert {k: fetched[k] for k in body} == body


def test_patch_unknown_is_404(api) -> None:
    missing = runs.missing_id()
    assert_not_found(api.patch(f"/backtests/{missing}", {"status": "failed"}), missing)


def test_delete_is_204_then_404(api, strategy, daily) -> None:
    created = runs.create_backtest(api, strategy["id"], daily.config())
    response = api.delete(f"/backtests/{created['id']}")
    assert response.status == 204, response
    assert response.body == b""
    assert_not_found(api.get(f"/backtests/{created['id']}"), created["id"])
    assert_not_found(api.delete(f"/backtests/{created['id']}"))
    assert created["id"] not in [b["id"] for b in runs.list_backtests(api, strategy["id"])]


def test_create_for_an_unknown_strategy_is_404(api, daily) -> None:
    missing = runs.missing_id()
    assert_not_found(api.post("/backtests", {"strategy_id": missing, "config": daily.config()}), missing)
