"""Schemathesis against the e2e stack, from the OpenAPI document the gateway serves.

Every operation gets a bounded number of generated requests (valid by the
document); every response must be no 5xx and must conform to the document:
status code, content type, headers and body schema. The document's links
are then followed by hand from a real strategy (create -> get -> patch ->
copy -> delete), each response validated the same way, and schemathesis'
own stateful run follows them at random. The generation seed is fixed so a
failure reproduces (FUZZ_SEED picks another, FUZZ_EXAMPLES and
FUZZ_SCENARIOS change the counts); schemathesis chooses some link values
at random itself, so the stateful run varies from run to run.

A failure found here is fixed where it belongs and pinned by a regression
test of its own (tests/unit/kit/test_request_guard.py,
tests/e2e/conformance/test_bad_input.py); this module only finds them.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis import checks as sc

SEED = int(os.environ.get("FUZZ_SEED", "20261206"))
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))
STATEFUL_SCENARIOS = int(os.environ.get("FUZZ_SCENARIOS", "60"))
CHECKS = [
    sc.not_a_server_error,
    sc.status_code_conformance,
    sc.content_type_conformance,
    sc.response_headers_conformance,
    sc.response_schema_conformance,
]
# Sync executes wait for runs; nothing else should take long.
REQUEST_TIMEOUT_S = 30


@pytest.fixture(scope="module")
def schema(stack):
    """The document the gateway itself serves, pointed at the gateway."""
    document = requests.get(f"{stack.gateway_url}/openapi.json", timeout=10).json()
    loaded = schemathesis.openapi.from_dict(document)
    loaded.config.update(base_url=stack.gateway_url, request_timeout=REQUEST_TIMEOUT_S)
    # Valid-by-the-document requests only: the checks ask "no 5xx, answers as documented".
    loaded.config.generation.update(modes=[GenerationMode.POSITIVE])
    return loaded


def _settings(examples: int, **extra) -> hypothesis.settings:
    return hypothesis.settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate, Phase.target, Phase.shrink],
        **extra,
    )


def _fuzz(operation, session: requests.Session, calls: list[int]) -> Callable[[], None]:
    @hypothesis.seed(SEED)
    @_settings(EXAMPLES)
    @hypothesis.given(case=operation.as_strategy())
    def run(case) -> None:
        calls.append(1)
        response = case.call(session=session, timeout=REQUEST_TIMEOUT_S)
        case.validate_response(response, checks=CHECKS)

    return run


def test_every_operation_answers_as_documented(schema) -> None:
    failures, counted = [], {}
    with requests.Session() as session:
        for result in schema.get_all_operations():
            operation = result.ok()
            calls: list[int] = []
            try:
                _fuzz(operation, session, calls)()
            except (AssertionError, BaseExceptionGroup) as failure:  # shrunk, with schemathesis' curl to reproduce
                failures.append(f"{operation.label}:\n{failure}")
            counted[operation.label] = len(calls)
    print(f"\nschemathesis: {len(counted)} operations, {sum(counted.values())} requests (seed {SEED})")
    for label, count in sorted(counted.items()):
        print(f"  {count:4d}  {label}")
    assert len(counted) >= 20
    assert not failures, "\n\n".join(failures)


def _pointer(body: dict, expression: str):
    """The value a `$response.body#/name` link expression picks out of a JSON response."""
    prefix = "$response.body#/"
    assert expression.startswith(prefix), expression
    return body[expression[len(prefix) :]]


def _follow(schema, session: requests.Session, source: dict, link: dict, body: dict | None = None):
    """Calls the link's operation with what the link takes from `source`; validates the response as documented."""
    operation = schema.find_operation_by_id(link["operationId"])
    parameters = {name: _pointer(source, expr) for name, expr in link.get("parameters", {}).items()}
    merged = {**(body or {}), **{k: _pointer(source, e) for k, e in link.get("requestBody", {}).items()}}
    kwargs = {"body": merged} if operation.body else {}
    case = operation.Case(path_parameters=parameters, **kwargs)
    response = case.call(session=session, timeout=REQUEST_TIMEOUT_S)
    case.validate_response(response, checks=CHECKS)
    return response


def test_links_carry_a_backtest_from_create_to_delete(schema) -> None:
    # The chain the document's links describe, followed link by link as a client would.
    document = schema.raw_schema
    links = {
        op["operationId"]: next(iter(op["responses"].values())).get("links", {})
        for item in document["paths"].values()
        for op in item.values()
    }
    config = {
        "symbol": "FUZZ",
        "timeframe": "1d",
        "start_date": "2020-01-01",
        "end_date": "2021-01-01",
        "signal_plugin_key": "buy_and_hold",
    }
    with requests.Session() as session:
        strategy = requests.post(f"{schema.config.base_url}/api/v1/strategies", json={"name": "links"}, timeout=10)
        assert strategy.status_code == 201
        create = links["CatalogService_CreateStrategy"]["CatalogService_CreateBacktest"]
        created = _follow(schema, session, strategy.json(), create, {"config": config})
        assert created.status_code == 201
        backtest = created.json()
        fetched = _follow(
            schema, session, backtest, links["CatalogService_CreateBacktest"]["CatalogService_GetBacktest"]
        )
        assert fetched.status_code == 200 and fetched.json()["id"] == backtest["id"]
        patch = links["CatalogService_GetBacktest"]["CatalogService_UpdateBacktest"]
        patched = _follow(schema, session, fetched.json(), patch)
        assert patched.status_code == 200 and patched.json()["trades_uri"] is None
        copy = _follow(
            schema, session, fetched.json(), links["CatalogService_GetBacktest"]["CatalogService_CreateBacktest"]
        )
        assert copy.status_code == 201 and copy.json()["config"] == backtest["config"]
        delete = links["CatalogService_UpdateBacktest"]["CatalogService_DeleteBacktest"]
        assert _follow(schema, session, patched.json(), delete).status_code == 204
        gone = _follow(schema, session, backtest, links["CatalogService_CreateBacktest"]["CatalogService_GetBacktest"])
        assert gone.status_code == 404


def test_stateful_fuzzing_follows_links_without_failures(schema) -> None:
    machine = schema.as_state_machine()
    steps: list[tuple[str, int]] = []
    found: list[str] = []

    class Workflow(machine):
        def validate_response(self, response, case, additional_checks=None, **kwargs) -> None:
            steps.append((case.operation.label, response.status_code))
            try:
                case.validate_response(response, checks=CHECKS, recorder=self.recorder)
            except BaseException as failure:  # kept: a replay below must not hide it
                found.append(f"{case.operation.label}: {failure}")
                raise

    # No replay or shrinking on purpose: the server's state changes between runs of the same
    # choices (a record deleted, another created), so hypothesis may stop a run with
    # FlakyStrategyDefinition when it re-draws. That ends the run early; it is not a finding,
    # and the checks of every call made before it are kept above.
    stateful = _settings(STATEFUL_SCENARIOS, stateful_step_count=8)
    try:
        Workflow.run(settings=hypothesis.settings(stateful, phases=[Phase.generate]))
    except (hypothesis.errors.FlakyStrategyDefinition, hypothesis.errors.FlakyReplay) as stopped:
        print(f"\nstateful run stopped early after {len(steps)} calls: {type(stopped).__name__}")
    print(f"\nschemathesis stateful: {len(steps)} calls over up to {STATEFUL_SCENARIOS} scenarios")
    for label, status in sorted(set(steps)):
        print(f"  {steps.count((label, status)):4d}  {status}  {label}")
    assert not found, "\n\n".join(found)
    # Responses fed later requests: some call on a path with an id reached a real record.
    assert any(status < 300 and "{" in label for label, status in steps), steps
