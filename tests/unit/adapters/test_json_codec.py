"""The hot-path JSON codec: what it writes for values the standard library writes differently, and jobs round-trip."""

from __future__ import annotations

import json
import math
import uuid

import numpy as np

from services.adapters import json_codec
from services.adapters.bus import Job


def test_non_finite_numbers_become_null_which_jsonb_accepts():
    assert json_codec.loads(json_codec.dumps({"a": math.nan, "b": math.inf, "c": -math.inf})) == {
        "a": None,
        "b": None,
        "c": None,
    }


def test_numpy_scalars_uuids_and_integer_keys_are_written_as_plain_json():
    run = uuid.UUID("12345678-1234-5678-1234-567812345678")
    encoded = json_codec.dumps({"x": np.float64(1.5), "n": np.int64(3), "id": run, 7: "seven"})
    assert json.loads(encoded) == {"x": 1.5, "n": 3, "id": str(run), "7": "seven"}


def test_floats_read_back_exactly():
    values = [0.1 + 0.2, 1e-7, 123456.789, -0.0, 5e-324, 1.7976931348623157e308]
    assert json_codec.loads(json_codec.dumps(values)) == values
    assert json_codec.loads(json.dumps(values)) == values  # and it reads what the standard library wrote


def test_a_job_round_trips_through_the_codec():
    job = Job(
        job_id="5f0c2a9e-7b3d-4c1a-9e8f-2b6d4a1c0e7f.0",
        engine="vectorbt",
        backtest_ids=["a", "b"],
        runs=[{"config": {"symbol": "AAPL", "signal_plugin_params": {"fast_period": 10}}, "commission": 0.0005}] * 2,
        bars_uri="s3://b/bars/AAPL/1d.parquet",
        bars_sha256="ab" * 32,
    )
    assert Job.decode(job.encode()) == job
    # A job written by a catalog still on the standard library decodes the same.
    assert Job.decode(json.dumps(vars(job)).encode()) == job
