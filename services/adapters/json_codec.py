"""The JSON codec of the hot paths: JSONB columns of the catalog and jobs on the bus.

orjson instead of the standard library: a sweep's outcomes, configs and
leaderboard cross the catalog as JSON several times per run, and the
standard encoder and decoder were the catalog's largest single costs under
a sweep (py-spy). Differences that matter here: `dumps` returns bytes,
writes NaN and infinities as null (JSONB rejects them anyway), and accepts
numpy scalars, UUIDs and non-string keys (written as strings).
"""

from __future__ import annotations

from typing import Any

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY

loads = orjson.loads
JSONDecodeError = orjson.JSONDecodeError


def dumps(value: Any) -> bytes:
    """`value` as compact UTF-8 JSON."""
    return orjson.dumps(value, option=_OPTIONS)
