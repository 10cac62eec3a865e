"""Request commands without servers: ids, paging, strategies and PATCH validation name every bad field."""

from __future__ import annotations

import uuid

import pytest

from services.domain.commands import BacktestPatch, NewStrategy, Page, parse_id
from services.domain.errors import ValidationError

BUCKET = "backtest-artifacts"
ARTIFACT = f"s3://{BUCKET}/artifacts/5f0c2a9e-7b3d-4c1a-9e8f-2b6d4a1c0e7f/equity.parquet"


def fields_of(error: ValidationError) -> list[str]:
    return [v.field for v in error.violations]


def test_ids_must_be_uuids_named_by_field():
    assert parse_id("backtest_id", "5f0c2a9e-7b3d-4c1a-9e8f-2b6d4a1c0e7f") == uuid.UUID(
        "5f0c2a9e-7b3d-4c1a-9e8f-2b6d4a1c0e7f"
    )
    look_alikes = (
        "5f0c2a9e-7b3d-4c1a-9e8f-2b6d4a1c0e7\uff46",  # full-width f: int(..., 16) reads it as f
        "\uff15f0c2a9e-7b3d-4c1a-9e8f-2b6d4a1c0e7f",  # full-width 5
        "5f0c2a9e-7b3d-4c1a-9e8f-2b6d4a1c0e7\u0669",  # Arabic-Indic 9
    )
    bad = ((None, "required"), ("", "required"), ("x", "must be a UUID"), *((t, "must be a UUID") for t in look_alikes))
    for raw, description in bad:
        with pytest.raises(ValidationError) as caught:
            parse_id("backtest_id", raw)
        assert (
            caught.value.violations[0].field == "backtest_id" and caught.value.violations[0].description == description
        )


def test_paging_defaults_and_bounds():
    assert Page.of({}) == Page(0, 100)
    with pytest.raises(ValidationError) as caught:
        Page.of({"skip": -1, "limit": 1001})
    assert fields_of(caught.value) == ["skip", "limit"]


def test_a_strategy_needs_a_name_and_symbols_that_are_strings():
    with pytest.raises(ValidationError) as caught:
        NewStrategy.of({"name": " ", "universe": ["AAPL", "", 3]})
    assert fields_of(caught.value) == ["name", "universe[1]", "universe[2]"]


def test_a_patch_keeps_only_the_fields_given():
    patch = BacktestPatch.of({"status": "pending", "equity_curve_uri": ARTIFACT}, bucket=BUCKET)
    assert patch.changes == {"status": "pending", "equity_curve_uri": ARTIFACT}


def test_a_bad_patch_names_every_bad_field():
    bad = {"status": "done", "metrics": [1], "trades_uri": f"s3://{BUCKET}/market-data/AAPL/1d.parquet"}
    with pytest.raises(ValidationError) as caught:
        BacktestPatch.of(bad, bucket=BUCKET)
    assert fields_of(caught.value) == ["status", "metrics", "trades_uri"]
