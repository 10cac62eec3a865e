"""The client's HTTP rules on canned answers: retries on 503 only, Retry-After, errors by status, 504 followed up.

These answers come from httpx.MockTransport (a pure unit test); the same
paths run against the real gateway in tests/e2e/client.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from backtest_client import Client, errors
from backtest_client._transport import MAX_WAIT_S, Transport, json_array_elements, retry_after

BAD_REQUEST = {
    "code": 3,
    "message": "engine: unknown; config.start_date: must be before end_date",
    "details": [
        {
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "field_violations": [
                {"field": "engine", "description": "unknown engine 'zipline'", "reason": ""},
                {"field": "config.start_date", "description": "must be before end_date", "reason": ""},
            ],
        }
    ],
}


def transport(answers: list[httpx.Response], seen: list[httpx.Request], waits: list[float]) -> Transport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers.pop(0)

    return Transport("http://gateway", api_key="k1", transport=httpx.MockTransport(handler), sleep=waits.append)


def test_a_503_is_retried_after_its_retry_after_and_then_succeeds():
    seen, waits = [], []
    http = transport(
        [httpx.Response(503, headers={"retry-after": "2"}), httpx.Response(503), httpx.Response(200, json={"ok": 1})],
        seen,
        waits,
    )
    assert http.json("GET", "/market-data") == {"ok": 1}
    assert len(seen) == 3 and waits[0] == 2.0 and waits[1] > 0
    assert all(r.headers["x-api-key"] == "k1" for r in seen)
    assert seen[0].url == "http://gateway/api/v1/market-data"


def test_503_after_every_retry_is_an_unavailable_error():
    seen, waits = [], []
    http = transport([httpx.Response(503, json={"code": 14, "message": "queue down"}) for _ in range(4)], seen, waits)
    with pytest.raises(errors.UnavailableError, match="queue down") as caught:
        http.json("POST", "/backtests/sweep", json={})
    assert len(seen) == 4 and caught.value.status == 503


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (404, errors.NotFoundError),
        (409, errors.ConflictError),
        (504, errors.GatewayTimeoutError),
        (500, errors.ServerError),
        (401, errors.AuthenticationError),
    ],
)
def test_other_failures_are_not_retried_and_have_their_own_type(status, kind):
    seen, waits = [], []
    http = transport([httpx.Response(status, json={"code": 5, "message": "backtest not found: abc"})], seen, waits)
    with pytest.raises(kind) as caught:
        http.json("GET", "/backtests/abc")
    assert len(seen) == 1 and not waits
    assert "GET /api/v1/backtests/abc" in caught.value.message and str(status) in caught.value.message


def test_a_422_carries_every_field_violation():
    seen, waits = [], []
    http = transport([httpx.Response(422, json=BAD_REQUEST)], seen, waits)
    with pytest.raises(errors.ValidationError) as caught:
        http.json("POST", "/backtests", json={})
    assert [v.field for v in caught.value.violations] == ["engine", "config.start_date"]
    assert "engine: unknown engine 'zipline'" in str(caught.value)


def test_retry_after_as_an_http_date_and_its_cap():
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=5), usegmt=True)
    assert 3.0 < retry_after(httpx.Response(503, headers={"retry-after": soon}), 0) <= 5.0
    assert retry_after(httpx.Response(503, headers={"retry-after": "3600"}), 0) == MAX_WAIT_S
    assert retry_after(httpx.Response(503, headers={"retry-after": "soon"}), 2) == pytest.approx(1.0)


def test_an_unreachable_api_names_its_address():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    http = Transport("http://127.0.0.1:9", transport=httpx.MockTransport(refuse))
    with pytest.raises(errors.ApiConnectionError, match="cannot reach the API at http://127.0.0.1:9"):
        http.json("GET", "/strategies")


def backtest_wire(status: str) -> dict:
    return {
        "id": "b1",
        "strategy_id": "s1",
        "engine": "vectorbt",
        "status": status,
        "initial_capital": 100000.0,
        "commission": 0.0005,
        "slippage": 0.0005,
        "config": {
            "symbol": "AAPL",
            "timeframe": "1d",
            "start_date": "2020-01-01",
            "end_date": "2021-01-01",
            "signal_plugin_key": "crossover_signal",
            "signal_plugin_params": {"fast_period": 10.0, "slow_period": 50.0},
        },
        "metrics": {"total_return": 0.1} if status == "completed" else {},
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-01-01T00:00:00Z",
    }


def test_a_sync_run_past_the_deadline_is_followed_until_it_completes(monkeypatch):
    monkeypatch.setattr("backtest_client.tasks.time.sleep", lambda s: None)
    answers = {
        "POST /api/v1/backtests/b1/execute": [httpx.Response(504, json={"code": 4, "message": "deadline"})],
        "GET /api/v1/backtests/b1": [
            httpx.Response(200, json=backtest_wire("running")),
            httpx.Response(200, json=backtest_wire("completed")),
        ],
    }

    def handler(request: httpx.Request) -> httpx.Response:
        return answers[f"{request.method} {request.url.path}"].pop(0)

    client = Client("http://gateway", transport=httpx.MockTransport(handler))
    result = client.backtests.run("b1")
    assert result.metrics == {"total_return": 0.1}
    assert result.backtest.config.params == {"fast_period": 10, "slow_period": 50}
    assert not any(answers.values())


def test_a_failed_run_raises_run_failed_with_its_reason():
    failed = backtest_wire("failed") | {"metrics": {"error": "no bars of NOPE 1d in range"}}

    def handler(request: httpx.Request) -> httpx.Response:
        assert json.loads(request.content) == {"async_mode": False}
        return httpx.Response(200, json=failed)

    client = Client("http://gateway", transport=httpx.MockTransport(handler))
    with pytest.raises(errors.RunFailedError, match="no bars of NOPE") as caught:
        client.backtests.run("b1")
    assert caught.value.backtest_id == "b1"


@pytest.mark.parametrize("cut", [1, 2, 3, 7, 1000])
def test_a_streamed_array_yields_each_element_once_it_is_complete(cut):
    body = '[{"a":1,"s":"x]},["},{"a":2,"n":[1,2]}, {"a":3}]'
    pieces = [body[i : i + cut] for i in range(0, len(body), cut)]
    seen: list = []
    for element in json_array_elements(iter(pieces)):
        seen.append(element)
    assert seen == [{"a": 1, "s": "x]},["}, {"a": 2, "n": [1, 2]}, {"a": 3}]
    assert list(json_array_elements(["[", "]"])) == []


def test_an_element_is_handed_out_before_the_rest_of_the_array_arrives():
    def pieces():
        yield '[{"status":"PENDING"}'
        raise AssertionError("the first element must be out before the next piece is read")

    stream = json_array_elements(pieces())
    assert next(stream) == {"status": "PENDING"}
