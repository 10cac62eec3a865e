"""What the gateway itself answers: unknown paths 404, unknown query parameters 400, malformed JSON 400, 413.

Every error body is google.rpc.Status JSON: {"code": <gRPC code>, "message": ..., "details": [...]}.
"""

from __future__ import annotations

import pytest

from . import runs
from .contract import INVALID_ARGUMENT, NOT_FOUND, RESOURCE_EXHAUSTED, error_body


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/api/v1/nothing"),
        ("GET", "/api/v2/backtests"),
        ("GET", "/api"),
        ("GET", "/"),
        ("GET", "/api/v1/backtests/{id}/nothing"),
        ("GET", "/api/v1/backtests/{id}/execute"),
        ("PUT", "/api/v1/backtests"),
        ("DELETE", "/api/v1/backtests"),
        ("POST", "/api/v1/backtests/engines/available"),
        ("POST", "/api/v1/tasks/{id}"),
    ],
)
def test_unknown_paths_and_methods_are_404(api, method, path) -> None:
    body = {} if method in ("POST", "PUT") else None
    error_body(api.request(method, path.format(id=runs.missing_id()), json_body=body), 404, NOT_FOUND)


@pytest.mark.parametrize(
    "path, params",
    [
        ("/backtests", {"page": 2}),
        ("/backtests", {"strategy": runs.missing_id()}),
        ("/strategies", {"offset": 1}),
        ("/backtests/engines/available", {"verbose": "true"}),
        ("/market-data", {"symbol": "AAPL"}),
        ("/backtests/{id}", {"expand": "metrics"}),
    ],
)
def test_unknown_query_parameters_are_400(api, path, params) -> None:
    error_body(api.get(path.format(id=runs.missing_id()), params=params), 400, INVALID_ARGUMENT)


def test_known_query_parameters_pass(api) -> None:
    response = api.get("/backtests", params={"skip": 0, "limit": 1, "strategy_id": runs.missing_id()})
    assert response.status == 200, response
    assert response.json() == []


@pytest.mark.parametrize(
    "method, path",
    [
        ("POST", "/backtests"),
        ("POST", "/strategies"),
        ("PATCH", "/backtests/{id}"),
        ("POST", "/backtests/{id}/execute"),
        ("POST", "/backtests/compare"),
        ("POST", "/backtests/sweep"),
    ],
)
@pytest.mark.parametrize("raw", [b'{"name": ', b"{'single': 'quotes'}", b"not json at all", b"[1, 2]"])
def test_malformed_json_is_400(api, method, path, raw) -> None:
    response = api.request(method, path.format(id=runs.missing_id()), body=raw, content_type="application/json")
    error_body(response, 400, INVALID_ARGUMENT)


@pytest.mark.parametrize(
    "path, body",
    [
        ("/backtests", {"strategy_id": "x", "initial_capital": "lots", "config": {}}),
        ("/backtests/compare", {"backtest_ids": "one"}),
        ("/backtests/sweep", {"strategy_id": "x", "param_grid": {"commission": 0.1}}),
        ("/strategies", {"name": "typed", "universe": "SPY"}),
    ],
)
def test_json_of_the_wrong_type_is_400(api, path, body) -> None:
    error_body(api.post(path, body), 400, INVALID_ARGUMENT)


def test_errors_are_json(api) -> None:
    response = api.get(f"/backtests/{runs.missing_id()}")
    assert response.headers["content-type"].startswith("application/json")
    error_body(response, 404, NOT_FOUND)


def test_a_body_over_the_upload_limit_is_413(api) -> None:
    # Both gateways cap a unary request at 60 MiB (envoy.yaml max_request_body_size, GATEWAY_MAX_UPLOAD_BYTES):
    # the reply is Status JSON like any other error (envoy.yaml's local_reply_config). Market-data
    # uploads stream instead, without that cap (docs/market-data.md).
    body = b"x" * (60 * 1024 * 1024 + 1)
    response = api.put("/signal-series/too_big", body=body, content_type="text/csv")
    assert response.headers["content-type"].startswith("application/json")
    error_body(response, 413, RESOURCE_EXHAUSTED)
