"""Every string and number field of every public request, spoiled one at a time: a 4xx naming it, nothing stored.

The fields come from the contract's descriptor set (gen/descriptor.binpb,
through gateway.openapi.contract), so a field added to a proto is covered
without touching this module. For each public RPC (every one with a REST
rule; RunReportService has none) a valid baseline request is sent first and
must succeed; then each case of tests/e2e/hostile_cases.py changes one
place of it (NUL, a lone surrogate, text over 65,536 characters, a
look-alike identifier, NaN, infinities, 1e999, integers beyond int32/int64
or negative) and goes to the gateway as REST (path, query or JSON body, as
the method's rule binds the field) and, when a gRPC client can encode it,
straight to the service. Every answer must be a 4xx whose body names the
field: a 422 with a BadRequest violation for it, or the transcoder's 400
naming it when the JSON itself cannot be a request; a request line made too
long by 65,537 characters in a path or query gets the gateway's 414 instead.
Never a 5xx, never a dropped connection. The catalog's tables are counted
(and the baseline's own records read in full) before and after each
method's cases: no row may appear, vanish or change.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import grpc
import pandas as pd
import psycopg
import pytest
from google.protobuf import descriptor_pool, json_format, message_factory
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from backtest.v1 import catalog_pb2, results_pb2  # noqa: F401 (registers the request types)
from gateway.openapi.contract import Binding, Contract

from . import hostile_cases
from .conformance import runs, synthetic_bars
from .conformance.http_client import Api, Response
from .conformance.test_signal_logic import RSI_TREE, prediction_csv

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = Contract(ROOT / "gen" / "descriptor.binpb")
# One binding per RPC: the contract has no additional_bindings, and one route is enough to reach the guard.
BINDINGS = {b.method.name: b for b in CONTRACT.bindings()}
TIMEOUT_S = 60.0
TABLES = ("strategies", "backtests", "tasks", "series", "signal_logic", "signal_logic_versions", "signal_series")


class Records:
    """What the baselines point at: a strategy, a series, finished runs, a task, a signal logic and series."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.symbol = synthetic_bars.unique_symbol("HOST")
        self.bars = synthetic_bars.daily(300, seed=14)
        self.csv = synthetic_bars.to_csv(self.bars, date_only=True)
        response = api.put(f"/market-data/{self.symbol}/1d", body=self.csv, content_type="text/csv")
        assert response.status == 200, response
        self.strategy = runs.create_strategy(api, "hostile", description="hostile fields", universe=["HOST"])
        self.config = {
            "symbol": self.symbol,
            "timeframe": "1d",
            "start_date": self.stamp(0),
            "end_date": self.stamp(-1),
            "signal_plugin_key": "crossover_signal",
            "signal_plugin_params": {"fast_period": 5, "slow_period": 20, "ma_type": "sma"},
        }
        self.completed = runs.run_to_completion(api, self.strategy["id"], self.config)
        self.other = runs.run_to_completion(api, self.strategy["id"], self.config, engine="backtrader")
        self.patchable = runs.create_backtest(api, self.strategy["id"], self.config)
        queued = runs.create_backtest(api, self.strategy["id"], self.config)
        started = api.post(f"/backtests/{queued['id']}/execute/async", {})
        assert started.status == 200, started
        self.task_id = started.json()["task_id"]
        assert runs.wait_task(api, self.task_id)["status"] == "SUCCESS"
        swept = api.post("/backtests/sweep", self.sweep_body())
        assert swept.status == 200, swept
        self.sweep_task_id = swept.json()["task_id"]
        assert runs.wait_task(api, self.sweep_task_id)["status"] == "SUCCESS"
        # Bars after the series' last one, for AppendBars.
        after = synthetic_bars.daily(5, start=str((self.bars.index[-1] + pd.offsets.BDay(1)).date()), seed=15)
        self.appended_csv = synthetic_bars.to_csv(after, date_only=True)
        logic = api.post("/signal-logic", self.logic_body())
        assert logic.status == 201, logic
        self.logic = logic.json()
        self.signal_name = f"hostile-{self.symbol.lower()}"
        self.signal_csv = prediction_csv(SimpleNamespace(frame=self.bars), self.symbol)
        stored = api.put(f"/signal-series/{self.signal_name}", body=self.signal_csv, content_type="text/csv")
        assert stored.status == 200, stored

    def stamp(self, position: int) -> str:
        return self.bars.index[position].strftime("%Y-%m-%d")

    def logic_body(self) -> dict[str, Any]:
        return {
            "name": "hostile rsi",
            "description": "rsi mean reversion",
            "rule_tree": RSI_TREE,
            "output_mode": "discrete",
            "position_mode": "long_only",
            "strategy_id": self.strategy["id"],
        }

    def sweep_body(self) -> dict[str, Any]:
        return {
            "strategy_id": self.strategy["id"],
            "engine": "vectorbt",
            "base_config": self.config,
            "param_grid": [{"signal_plugin_params.fast_period": 10}, {"commission": 0.001}],
            "rank_metric": "perf_sharpe_ratio",
        }

    def file(self, data: bytes) -> dict[str, str]:
        return {"content_type": "text/csv", "data": base64.b64encode(data).decode()}

    def baselines(self) -> dict[str, dict[str, Any]]:
        """A valid request per RPC, in proto field names; the hostile cases spoil one place of each."""
        strategy_id, backtest_id = self.strategy["id"], self.completed["id"]
        return {
            "CreateBacktest": {
                "strategy_id": strategy_id,
                "engine": "vectorbt",
                "initial_capital": 50_000.0,
                "commission": 0.001,
                "slippage": 0.001,
                "config": {
                    **self.config,
                    "bars_per_year": 252,
                    "risk_free_rate": 0.01,
                    "size_type": "percent",
                    "fill_price": "close",
                    "size": 1.0,
                },
            },
            "ListBacktests": {"strategy_id": strategy_id, "skip": 0, "limit": 10},
            "GetBacktest": {"backtest_id": backtest_id},
            "UpdateBacktest": {
                "backtest_id": self.patchable["id"],
                "status": "completed",
                "metrics": {"perf_sharpe_ratio": 1.25, "trade_total_trades": 3},
                "trades_uri": self.completed["trades_uri"],
                "equity_curve_uri": self.completed["equity_curve_uri"],
            },
            "DeleteBacktest": {"backtest_id": backtest_id},
            "ExecuteBacktest": {"backtest_id": backtest_id, "async_mode": False},
            "ExecuteBacktestAsync": {"backtest_id": backtest_id},
            "ListEngines": {},
            "SweepBacktests": self.sweep_body(),
            "GridSearchBacktests": {
                "strategy_id": strategy_id,
                "engine": "vectorbt",
                "base_config": self.config,
                "parameter_space": {
                    "signal_plugin_params.fast_period": [5, 10],
                    "commission": {"start": 0.0005, "stop": 0.001, "step": 0.0005},
                },
                "rank_metric": "perf_sharpe_ratio",
                "top_n": 5,
            },
            "DownloadTaskRuns": {"task_id": self.sweep_task_id},
            "GetTask": {"task_id": self.task_id},
            "CancelTask": {"task_id": self.task_id},
            "WatchTask": {"task_id": self.task_id},
            "CreateStrategy": {
                "name": "hostile",
                "description": "a strategy",
                "universe": ["AAPL", "MSFT"],
                "params": {"lookback": 20, "mode": "fast", "weights": [0.5, 0.5], "nested": {"k": "v"}},
            },
            "ListStrategies": {"skip": 0, "limit": 10},
            "GetStrategy": {"strategy_id": strategy_id},
            "DeleteStrategy": {"strategy_id": strategy_id},
            "UploadBars": {"symbol": self.symbol, "timeframe": "1d", "file": self.file(self.csv)},
            "AppendBars": {"symbol": self.symbol, "timeframe": "1d", "file": self.file(self.appended_csv)},
            "DownloadBars": {
                "symbol": self.symbol,
                "timeframe": "1d",
                "start": self.stamp(10),
                "end": self.stamp(-10),
                "format": "csv",
            },
            "ListSeries": {},
            "GetSeries": {"symbol": self.symbol, "timeframe": "1d"},
            "CreateSignalLogic": self.logic_body(),
            "ListSignalLogic": {"skip": 0, "limit": 10},
            "GetSignalLogic": {"signal_logic_id": self.logic["id"]},
            "UpdateSignalLogic": {"signal_logic_id": self.logic["id"], **self.logic_body()},
            "DeleteSignalLogic": {"signal_logic_id": self.logic["id"]},
            "ImportSignalSeries": {"name": self.signal_name, "file": self.file(self.signal_csv)},
            "ListSignalSeries": {},
            "GetSignalSeries": {"name": self.signal_name},
            "ListSignalPlugins": {},
            "GetEquityCurveJson": {"backtest_id": backtest_id},
            "DownloadEquityCurve": {"backtest_id": backtest_id},
            "GetTradesJson": {"backtest_id": backtest_id},
            "DownloadTrades": {"backtest_id": backtest_id},
            "GetBacktestReport": {"backtest_id": backtest_id},
            "GetTaskReport": {"task_id": self.task_id},
            "CompareBacktests": {"backtest_ids": [backtest_id, self.other["id"]]},
        }

    def disposable(self, method: str, baseline: dict[str, Any]) -> dict[str, Any]:
        """The baseline of a method that deletes or runs its record, pointed at a record of its own."""
        if method in ("DeleteBacktest", "ExecuteBacktest", "ExecuteBacktestAsync"):
            return {**baseline, "backtest_id": runs.create_backtest(self.api, self.strategy["id"], self.config)["id"]}
        if method == "CancelTask":  # a task still running: a finished one cannot be cancelled (409)
            # Backtrader computes each run on its own, tens of ms each: fifty (the sweep's most) keep the task
            # running well past the cancel. Ten vectorbt runs were one coalesced batch of a few ms and
            # could finish first (a CI run saw the baseline's cancel answered 409, "already ended").
            grid = [{"signal_plugin_params.slow_period": period} for period in range(21, 71)]
            body = {**self.sweep_body(), "engine": "backtrader", "param_grid": grid}
            swept = self.api.post("/backtests/sweep", body)
            assert swept.status == 200, swept
            return {**baseline, "task_id": swept.json()["task_id"]}
        if method == "DeleteStrategy":
            return {**baseline, "strategy_id": runs.create_strategy(self.api, "hostile-disposable")["id"]}
        if method == "DeleteSignalLogic":
            created = self.api.post("/signal-logic", self.logic_body())
            assert created.status == 201, created
            return {**baseline, "signal_logic_id": created.json()["id"]}
        return baseline

    def ids(self) -> dict[str, list[str]]:
        """Primary keys of every record a baseline points at, by table."""
        backtests = [self.completed["id"], self.other["id"], self.patchable["id"]]
        return {
            "strategies": [self.strategy["id"]],
            "backtests": backtests,
            "tasks": [self.task_id],
            "signal_logic": [self.logic["id"]],
        }


@pytest.fixture(scope="module")
def api(stack) -> Api:
    return Api(stack.gateway_url)


@pytest.fixture(scope="module")
def records(api) -> Records:
    return Records(api)


@pytest.fixture(scope="module")
def database(stack) -> Iterator[psycopg.Connection]:
    url = stack.env["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as connection:
        yield connection


def snapshot(database: psycopg.Connection, records: Records) -> dict[str, Any]:
    """Row counts of the catalog's tables, and the baseline records' rows in full."""
    seen: dict[str, Any] = {}
    for table in TABLES:
        seen[table] = database.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608 (fixed names)
    for table, ids in records.ids().items():
        rows = database.execute(f"SELECT t::text FROM {table} t WHERE id = ANY(%s::uuid[]) ORDER BY 1", [ids])  # noqa: S608
        seen[f"{table} rows"] = [row[0] for row in rows]
    seen["series row"] = database.execute("SELECT t::text FROM series t WHERE symbol = %s", [records.symbol]).fetchall()
    seen["signal series row"] = database.execute(
        "SELECT t::text FROM signal_series t WHERE name = %s", [records.signal_name]
    ).fetchall()
    return seen


# --- REST -------------------------------------------------------------------------------------------------


def _encode(text: str) -> str:
    """Percent-encoded UTF-8; a lone surrogate becomes its WTF-8 bytes (%ED%A0%80), as a raw client would send."""
    return urllib.parse.quote(text.encode("utf-8", "surrogatepass"), safe="")


def _scalar_text(value: Any) -> str:
    if isinstance(value, hostile_cases.Raw):
        return value.text
    if isinstance(value, bool):
        return "true" if value else "false"
    return _encode(value) if isinstance(value, str) else str(value)


def _json(document: Any) -> bytes:
    """JSON with Raw tokens written as they are; lone surrogates escaped (`"\\ud800"`) by ensure_ascii."""
    raws: list[str] = []

    def swap(value: Any) -> Any:
        if isinstance(value, hostile_cases.Raw):
            raws.append(value.text)
            return f"@@raw{len(raws) - 1}@@"
        if isinstance(value, dict):
            return {key: swap(item) for key, item in value.items()}
        if isinstance(value, list):
            return [swap(item) for item in value]
        return value

    text = json.dumps(swap(document), ensure_ascii=True)
    for index, raw in enumerate(raws):
        text = text.replace(f'"@@raw{index}@@"', raw)
    return text.encode()


def _query(document: dict[str, Any], prefix: str = "") -> list[str]:
    pairs: list[str] = []
    for name, value in document.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict):
            pairs += _query(value, key + ".")
        else:
            pairs += [f"{key}={_scalar_text(item)}" for item in (value if isinstance(value, list) else [value])]
    return pairs


def rest_request(binding: Binding, request: dict[str, Any]) -> tuple[str, str, bytes | None, str | bytes | None, bool]:
    """(method, target, body, content type, whether the fields are in the request line or headers) as bound.

    An HttpBody's content_type is the Content-Type header: text with a lone surrogate goes as its WTF-8 bytes.
    """
    remaining = dict(request)
    path = binding.path
    for variable in binding.variables:
        path = path.replace("{" + variable + "}", _scalar_text(remaining.pop(variable)))
    if binding.body == "*":
        return binding.http_method.upper(), path, _json(remaining), "application/json", False
    if binding.body:
        file = remaining.pop(binding.body)
        content_type = file["content_type"].encode("utf-8", "surrogatepass")
        return binding.http_method.upper(), path, base64.b64decode(file["data"]), content_type, True
    query = _query(remaining)
    return binding.http_method.upper(), path + ("?" + "&".join(query) if query else ""), None, None, True


def send_rest(api: Api, binding: Binding, request: dict[str, Any]) -> Response:
    method, target, body, content_type, _ = rest_request(binding, request)
    return api.request(method, target, body=body, content_type=content_type)


# --- gRPC -------------------------------------------------------------------------------------------------


def request_class(binding: Binding):
    """The generated class of the method's request type (the default pool's, for serialisation)."""
    kind = descriptor_pool.Default().FindMessageTypeByName(binding.method.input_type.full_name)
    return message_factory.GetMessageClass(kind)


# Three DEL characters stand in for a lone surrogate while protobuf serializes (it refuses the surrogate);
# then the surrogate's WTF-8 bytes, as long, replace them in the bytes sent.
_STAND_IN = "\x7f\x7f\x7f"


def _stand_in(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace(hostile_cases.SURROGATE, _STAND_IN)
    if isinstance(value, dict):
        return {_stand_in(key): _stand_in(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_stand_in(item) for item in value]
    return value


def grpc_bytes(binding: Binding, request: dict[str, Any]) -> bytes:
    """The serialized request; a lone surrogate in it written as its WTF-8 bytes."""
    data = json_format.ParseDict(_stand_in(request), request_class(binding)()).SerializeToString()
    stand_ins = data.count(_STAND_IN.encode())
    assert stand_ins == json.dumps(request).count("\\ud800"), "a stand-in clashes with the baseline's bytes"
    return data.replace(_STAND_IN.encode(), hostile_cases.SURROGATE.encode("utf-8", "surrogatepass"))


def send_grpc(channel: grpc.Channel, binding: Binding, request: dict[str, Any]) -> grpc.RpcError | None:
    """The call's error, or None when it succeeded; a streaming answer is read to the end."""
    data = grpc_bytes(binding, request)
    name = f"/{binding.service.full_name}/{binding.method.name}"
    identity = bytes  # the answer's bytes are not looked at
    try:
        if binding.method.client_streaming:  # uploads: the whole request as the stream's one message
            call = channel.stream_unary(name, request_serializer=identity, response_deserializer=identity)
            call(iter([data]), timeout=TIMEOUT_S)
        elif binding.method.server_streaming:
            call = channel.unary_stream(name, request_serializer=identity)
            for _ in call(data, timeout=TIMEOUT_S):
                pass
        else:
            call = channel.unary_unary(name, request_serializer=identity, response_deserializer=identity)
            call(data, timeout=TIMEOUT_S)
    except grpc.RpcError as error:
        return error
    return None


def grpc_violations(error: grpc.RpcError) -> list[str]:
    status = rpc_status.from_call(error)
    found: list[str] = []
    for detail in status.details if status else []:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            found += [violation.field for violation in bad.field_violations]
    return found


# --- verdicts ---------------------------------------------------------------------------------------------


def _names(fields: list[str], case: hostile_cases.Case) -> bool:
    """Whether a violation names the case's field, a part of it, or (for an element) its repeated field."""
    field = case.field
    if case.renames_key:  # the key is the Struct's own: a violation under the Struct naming the key's start
        return any(f.startswith(f"{field}.{case.value[:1]}") for f in fields)
    whole = field[: -len(f"[{case.steps[-1]}]")] if isinstance(case.steps[-1], int) else field
    return any(f in (field, whole) or f.startswith((field + ".", field + "[")) for f in fields)


def _leaf(field: str) -> str:
    return field.rsplit(".", 1)[-1].split("[", 1)[0]


def rest_problem(response: Response, case: hostile_cases.Case, in_head: bool, upload: str = "") -> str | None:
    """Why this answer is wrong, or None when it is a 4xx naming the field.

    upload: the HttpBody field of an upload, whose content_type is the Content-Type header: a violation
        naming the upload (`file: content type ... is neither text/csv nor ...`) names that header too.
    """
    if response.status in (414, 431) and case.kind == "too-long" and in_head:
        return None  # the request line or a header is over the gateway's limit: no field to name yet
    if not 400 <= response.status < 500:
        return f"HTTP {response.status}: {response.text[:300]}"
    try:
        body = response.json()
    except AssertionError as problem:
        return str(problem)
    violations = [
        v.get("field", "")
        for d in body.get("details", [])
        if d.get("@type", "").endswith("google.rpc.BadRequest")
        for v in d.get("field_violations", [])
    ]
    if _names(violations, case) or (upload and case.field.startswith(upload + ".") and upload in violations):
        return None
    if response.status == 400 and _leaf(case.field) in body.get("message", ""):
        return None  # the transcoder's answer to JSON that is no request names the field in its message
    return f"HTTP {response.status} does not name {case.field!r}: {response.text[:300]}"


def grpc_problem(error: grpc.RpcError | None, case: hostile_cases.Case) -> str | None:
    if error is None:
        return "accepted"
    if error.code() != grpc.StatusCode.INVALID_ARGUMENT:
        return f"{error.code().name}: {error.details()[:300]}"
    if not _names(grpc_violations(error), case):
        return f"INVALID_ARGUMENT does not name {case.field!r}: {grpc_violations(error)} {error.details()[:300]}"
    return None


# --- the test ---------------------------------------------------------------------------------------------

PUBLIC = [name for name, binding in BINDINGS.items() if binding.method.input_type.fields]


def test_every_public_rpc_is_covered() -> None:
    # RunReportService (the executors' internal reports) has no REST rule, so it is not in the contract's bindings.
    assert {b.service.name for b in BINDINGS.values()} == {"CatalogService", "ResultsService"}
    assert len(BINDINGS) == len(list(CONTRACT.bindings())), "an RPC with two REST rules: test each"
    fieldless = sorted(set(BINDINGS) - set(PUBLIC))
    assert fieldless == ["ListEngines", "ListSeries", "ListSignalPlugins", "ListSignalSeries"]


def test_cases_reach_nested_repeated_and_struct_fields() -> None:
    # The generator itself, without a stack: every kind of place a request can hold a hostile value.
    create = BINDINGS["CreateBacktest"].method.input_type
    baseline = {"strategy_id": "5f0c", "config": {"symbol": "AAPL", "signal_plugin_params": {"fast_period": 5}}}
    generated = hostile_cases.cases(create, baseline, frozenset(), lambda field: "")
    by_field: dict[str, set[str]] = {}
    for case in generated:
        by_field.setdefault(case.field, set()).add(case.kind)
    text = {"nul", "surrogate", "too-long"}
    assert text | {"look-alike"} <= by_field["strategy_id"]
    assert text | {"look-alike"} <= by_field["config.symbol"]
    assert text <= by_field["config.feature_ids[0]"]
    assert {"nan", "infinity", "-infinity", "1e999", "-1e999"} <= by_field["config.signal_plugin_params.fast_period"]
    assert {"nan", "1e999"} <= by_field["initial_capital"]
    assert {"negative", "over-int32", "over-int64", "over-uint64"} <= by_field["config.bars_per_year"]
    keys = [c for c in generated if c.renames_key]
    assert {c.kind for c in keys} == text and all(c.field == "config.signal_plugin_params" for c in keys)
    logic = BINDINGS["CreateSignalLogic"].method.input_type
    documented = hostile_cases.cases(logic, {}, frozenset(), lambda field: CONTRACT.comments.get(field.full_name, ""))
    assert any(c.field == "name" and c.kind == "over-255-chars" and len(c.value) == 256 for c in documented)


@pytest.fixture(scope="module")
def channels(stack) -> Iterator[dict[str, grpc.Channel]]:
    with (
        grpc.insecure_channel(stack.catalog_addr) as catalog,
        grpc.insecure_channel(stack.results_addr) as results,
    ):
        yield {"CatalogService": catalog, "ResultsService": results}


@pytest.mark.parametrize("method", PUBLIC)
def test_hostile_values_are_a_4xx_naming_the_field_and_store_nothing(method, api, records, database, channels) -> None:
    binding = BINDINGS[method]
    baseline = records.baselines()[method]
    valid = send_rest(api, binding, records.disposable(method, baseline))
    assert 200 <= valid.status < 300, f"the baseline itself fails: {valid}"
    generated = hostile_cases.cases(
        binding.method.input_type,
        baseline,
        frozenset(binding.variables),
        lambda field: CONTRACT.comments.get(field.full_name, ""),
    )
    assert generated, method
    before = snapshot(database, records)
    problems: list[str] = []
    sent = 0
    for case in generated:
        request = case.apply(baseline)
        if hostile_cases.REST in case.transports:
            in_line = rest_request(binding, request)[4] or case.steps[0] in binding.variables
            try:
                upload = binding.body if binding.body not in ("", "*") else ""
                problem = rest_problem(send_rest(api, binding, request), case, in_line, upload)
            except (OSError, ValueError) as dropped:  # http.client's RemoteDisconnected is an OSError
                problem = f"connection dropped: {dropped!r}"
            sent += 1
            if problem:
                problems.append(f"REST {case.id}: {problem}")
        if hostile_cases.GRPC in case.transports:
            problem = grpc_problem(send_grpc(channels[binding.service.name], binding, request), case)
            sent += 1
            if problem:
                problems.append(f"gRPC {case.id}: {problem}")
    after = snapshot(database, records)
    print(f"\n{method}: {len(generated)} cases, {sent} requests")
    assert not problems, f"{len(problems)} of {sent} answers wrong:\n" + "\n".join(problems)
    changed = {name: (before[name], after[name]) for name in before if before[name] != after[name]}
    assert not changed, f"hostile requests changed stored data: {changed}"
