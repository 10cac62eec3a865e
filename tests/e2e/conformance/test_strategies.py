"""POST/GET/DELETE /strategies: 201, bare arrays, 204, 404 and 409 while backtests reference one."""

from __future__ import annotations

from . import runs
from .contract import STRATEGY_FIELDS, assert_conflict, assert_not_found, assert_rejected, is_timestamp, is_uuid


def test_create_is_201_and_echoes_the_strategy(api) -> None:
    body = {"name": "momentum", "description": "12-1 momentum", "universe": ["SPY", "QQQ"], "params": {"lookback": 12}}
    response = api.post("/strategies", body)
    assert response.status == 201, response
    created = response.json()
    assert STRATEGY_FIELDS <= set(created)
    assert is_uuid(created["id"])
    assert {k: created[k] for k in body} == body
    assert is_timestamp(created["created_at"]) and is_timestamp(created["updated_at"])


def test_create_with_only_a_name(api) -> None:
    created = runs.create_strategy(api, "bare")
    assert created["name"] == "bare"
    assert created.get("universe", []) == []
    assert created.get("params") in (None, {})


def test_create_without_a_name_is_422(api) -> None:
    before = api.get("/strategies", params={"limit": 1}).json()
    assert_rejected(api.post("/strategies", {"description": "no name"}), "name")
    assert_rejected(api.post("/strategies", {"name": ""}), "name")
    assert api.get("/strategies", params={"limit": 1}).json() == before


def test_list_is_an_array_newest_first(api) -> None:
    first = runs.create_strategy(api, "list-1")
    second = runs.create_strategy(api, "list-2")
    response = api.get("/strategies")
    assert response.status == 200, response
    listed = response.json()
    assert isinstance(listed, list)
    ids = [s["id"] for s in listed]
    assert ids.index(second["id"]) < ids.index(first["id"])
    assert next(s for s in listed if s["id"] == first["id"]) == first


def test_list_pages_with_skip_and_limit(api) -> None:
    runs.create_strategy(api, "page-1")
    runs.create_strategy(api, "page-2")
    two = api.get("/strategies", params={"limit": 2}).json()
    assert len(two) == 2
    assert api.get("/strategies", params={"skip": 1, "limit": 1}).json() == two[1:]


def test_get_one(api, strategy) -> None:
    response = api.get(f"/strategies/{strategy['id']}")
    assert response.status == 200, response
    assert response.json() == strategy


def test_get_unknown_is_404(api) -> None:
    missing = runs.missing_id()
    assert_not_found(api.get(f"/strategies/{missing}"), missing)


def test_delete_is_204_then_404(api) -> None:
    created = runs.create_strategy(api, "short-lived")
    response = api.delete(f"/strategies/{created['id']}")
    assert response.status == 204, response
    assert response.body == b""
    assert_not_found(api.get(f"/strategies/{created['id']}"))
    assert_not_found(api.delete(f"/strategies/{created['id']}"))
    assert created["id"] not in [s["id"] for s in api.get("/strategies", params={"limit": 1000}).json()]


def test_delete_while_referenced_is_409_and_keeps_it(api, daily) -> None:
    owner = runs.create_strategy(api, "referenced")
    backtest = runs.create_backtest(api, owner["id"], daily.config())
    assert_conflict(api.delete(f"/strategies/{owner['id']}"))
    assert api.get(f"/strategies/{owner['id']}").json() == owner
    # Once its backtests are gone it can go.
    assert api.delete(f"/backtests/{backtest['id']}").status == 204
    assert api.delete(f"/strategies/{owner['id']}").status == 204
