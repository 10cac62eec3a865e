"""The one order-sizing rule both engines follow.

Sizing depends on the equity path, so it cannot be precomputed: each engine
asks `order_quantity` at every fill opportunity, passing its own cash and
position. vectorbt calls it from inside its Numba order function and
backtrader from its Strategy, so the engines share the rule while each does
its own fills, fees, cash and records, which the parity test compares.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from services.domain.signals.schema import clip_exposure

PERCENT, SHARES, SIGNAL_WEIGHT = 0, 1, 2
SIZE_TYPE_CODES = {"percent": PERCENT, "shares": SHARES, "signal_weight": SIGNAL_WEIGHT}

# An order that spends all the cash is shrunk by this fraction: the engines
# add up cash in different orders, and backtrader refuses to open a position
# that would leave its cash a rounding error below zero.
_CASH_MARGIN = 1e-12


@njit(cache=True)
def _sign(x: float) -> float:
    if x > 0.0:
        return 1.0
    if x < 0.0:
        return -1.0
    return 0.0


@njit(cache=True)
def order_quantity(
    signal: float,
    prev_signal: float,
    position: float,
    cash: float,
    price: float,
    size_type: int,
    size: float,
    commission: float,
    slippage: float,
) -> float:
    """Signed shares to trade at one fill opportunity, 0.0 for none.

    signal: effective target exposure acted on now (already long-only clamped).
    prev_signal: effective signal of the bar before, 0.0 before the first bar.
    position: signed shares held before this fill.
    cash: cash held before this fill.
    price: market price of the fill (close or open) before slippage.
    size_type: PERCENT, SHARES or SIGNAL_WEIGHT.
    size: fraction of equity (percent, signal_weight scale) or share count (shares).
    commission: fee as a fraction of traded notional.
    slippage: fraction the fill price moves against the trader.
    """
    direction = _sign(signal)
    if size_type == SIGNAL_WEIGHT:
        if signal == prev_signal:
            return 0.0
    elif direction == _sign(position):
        return 0.0  # same side (or flat and flat): hold, never rebalance

    buy_price = price * (1.0 + slippage)
    sell_price = price * (1.0 - slippage)

    # A position on the wrong side is closed in full before anything opens.
    close_qty = 0.0
    if position != 0.0 and _sign(position) != direction:
        close_qty = -position
        if position > 0.0:
            notional = position * sell_price
            cash = cash + notional - notional * commission
        else:
            notional = -position * buy_price
            cash = cash - notional - notional * commission
        position = 0.0
    if direction == 0.0:
        return close_qty

    entry_price = buy_price if direction > 0.0 else sell_price
    equity = cash + position * price
    if equity <= 0.0:
        return close_qty  # a wiped-out account opens nothing
    if size_type == PERCENT:
        open_qty = direction * size * equity / (entry_price * (1.0 + commission))
    elif size_type == SHARES:
        open_qty = direction * size
    else:
        open_qty = signal * size * equity / (entry_price * (1.0 + commission)) - position

    if open_qty > 0.0:
        # Buys are cash-limited (fees included); shorts carry no margin limit.
        affordable = cash / (buy_price * (1.0 + commission)) * (1.0 - _CASH_MARGIN)
        open_qty = min(open_qty, max(affordable, 0.0))
    return close_qty + open_qty


def effective_signal(signal: np.ndarray, allow_short: bool) -> np.ndarray:
    """Signal as the engines act on it: NaN is flat, negatives are flat when long-only.

    signal: target exposure per bar in [-1, 1], NaN where the plugin has no view.
    allow_short: whether negative values open short positions.
    """
    out = clip_exposure(np.asarray(signal, dtype=np.float64), -1.0 if allow_short else 0.0)
    out += 0.0  # turns -0.0 into 0.0 so equality tests see one flat value
    return out
