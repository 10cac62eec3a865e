"""Lenient parsing of the date strings users put in run configs.

The seed's own examples are `2020-01-01T00:00:00` without an offset, so the
contract carries dates as strings. We accept any ISO-8601 date or date-time,
with or without an offset; an offset is honoured by converting to UTC, then
dropped, because stored bars are tz-naive UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd


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
