"""One ticker grammar for run configs and market data: tickers as data vendors write them."""

from __future__ import annotations

import pytest

from services.domain.errors import ValidationError
from services.domain.symbols import check_symbol, is_symbol


@pytest.mark.parametrize("symbol", ["AAPL", "^GSPC", "EURUSD=X", "ES=F", "BRK.B", "BRK-B", "BTC-USD", "7203.T", "A"])
def test_vendor_tickers_are_symbols(symbol):
    assert check_symbol(symbol, "config.symbol") == symbol


@pytest.mark.parametrize(
    "text",
    [
        "",
        "^",
        "^^GSPC",
        "A^B",
        "-AAPL",
        ".AAPL",
        "=X",
        "AA..PL",
        "A/B",
        "A B",
        "A%2FB",
        "A\x00",
        "Ä",
        "A" * 33,
        None,
        7,
    ],
)
def test_anything_that_cannot_be_one_key_segment_is_not(text):
    assert not is_symbol(text)
    with pytest.raises(ValidationError) as caught:
        check_symbol(text, "config.symbol")
    assert caught.value.violations[0].field == "config.symbol"
