"""Lenient parsing of the date strings users put in run configs.

The seed's own examples are `2020-01-01T00:00:00` without an offset, so the
contract carries dates as strings. We accept any ISO-8601 date or date-time,
with or without an offset; an offset is honoured by converting to UTC, then
dropped, because stored bars are tz-naive UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from services.domain.errors import FieldViolation


def parse_date(text: str) -> pd.Timestamp:
    """Parse `text` (ISO-8601 date or date-time, offset optional) into a tz-naive UTC Timestamp.

    Raises ValueError for anything else, including words such as "today" that
    pandas would accept: a stored config must mean the same thing tomorrow.
    """
    if not isinstance(text, str):
        raise ValueError(f"expected an ISO-8601 date string, got {type(text).__name__}")
    try:
        # Python 3.11's fromisoformat takes the whole ISO-8601 profile
        # (bare dates, "T" or space, "Z", +hh:mm) and nothing looser.
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"not an ISO-8601 date or date-time: {text!r}") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return pd.Timestamp(moment)


def parse_bounds(start: str, end: str) -> tuple[pd.Timestamp | None, pd.Timestamp | None, list[FieldViolation]]:
    """Inclusive window bounds from request fields: (start, end, violations).

    start, end: ISO-8601 dates or date-times as parse_date reads them; empty for no bound (None).
    A bare date is its midnight, so `end=2024-01-02` keeps a bar at 2024-01-02T00:00 and none after.
    violations: one per field that does not parse, naming `start` or `end`, or one on `end` when it
    is before start; empty when the window is good.
    """
    violations, bounds = [], []
    for field, text in (("start", start), ("end", end)):
        try:
            bounds.append(parse_date(text) if text else None)
        except ValueError:
            bounds.append(None)
            violations.append(FieldViolation(field, f"{text!r} is not an ISO-8601 date or date-time"))
    low, high = bounds
    if not violations and low is not None and high is not None and low > high:
        violations.append(FieldViolation("end", "is before start"))
    return low, high, violations
