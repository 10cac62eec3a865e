"""The ticker grammar: which strings name a symbol, in run configs and market-data paths alike.

Tickers are written as data vendors write them: indices with a caret
(`^GSPC`), currency pairs and futures with an equals sign (`EURUSD=X`,
`ES=F`), share classes and exchanges with a dot (`BRK.B`, `7203.T`), crypto
pairs with a hyphen (`BTC-USD`). A symbol also becomes one segment of an
object-store key (`market-data/<symbol>/<timeframe>.parquet`), so it never
holds a slash, whitespace, a percent sign or a parent step (`..`).
"""

from __future__ import annotations

import re

from services.domain.errors import ValidationError

MAX_LENGTH = 32
# An optional caret, then a letter or digit, then letters, digits and . _ = -.
_PATTERN = re.compile(r"\^?[A-Za-z0-9][A-Za-z0-9._=-]*")
RULE = "1-32 characters: an optional leading '^', a letter or digit, then letters, digits or . _ = -"


def is_symbol(text: object) -> bool:
    """Whether `text` is a ticker of the grammar."""
    return (
        isinstance(text, str) and len(text) <= MAX_LENGTH and _PATTERN.fullmatch(text) is not None and ".." not in text
    )


def check_symbol(text: object, field: str = "symbol") -> str:
    """`text` when it is a ticker; otherwise a ValidationError naming `field`.

    text: the value as received.
    field: dotted path of the value in the request, e.g. "config.symbol".
    """
    if not is_symbol(text):
        raise ValidationError.single(field, f"{text!r} is not a ticker: {RULE}")
    return text  # type: ignore[return-value]  # is_symbol checked it is a str
