"""Round trips from a log of fills, for engines whose own trade objects do not fit.

backtrader's `Trade` keeps only an average price and no entry notional for
positions that were added to, so its adapter logs filled orders and folds them
here into trades as defined in `base` (flat to flat or flip; size = shares put
into the position; volume-weighted entry and exit prices).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from services.domain.execution import Trade


@dataclass(frozen=True)
class Fill:
    """One executed order.

    bar: index of the bar the fill belongs to.
    qty: signed shares, positive for a buy.
    price: fill price, slippage included.
    fee: commission paid.
    """

    bar: int
    qty: float
    price: float
    fee: float


class _TradeInProgress:
    """Running totals of the trade in progress."""

    def __init__(self, bar: int, side: float) -> None:
        self.bar, self.side = bar, side
        self.in_qty = self.in_value = self.out_qty = self.out_value = self.fees = 0.0

    def add_entry(self, qty: float, price: float, fee: float) -> None:
        """Adds `qty` shares bought into a long (sold into a short) at `price`."""
        self.in_qty += qty
        self.in_value += qty * price
        self.fees += fee

    def add_exit(self, qty: float, price: float, fee: float) -> None:
        """Takes `qty` shares out of the position at `price`."""
        self.out_qty += qty
        self.out_value += qty * price
        self.fees += fee

    def finish(self, index: pd.DatetimeIndex, exit_bar: int | None, last_close: float, held: float) -> Trade:
        """The finished trade; `held` shares still open are valued at `last_close`."""
        entry_price = self.in_value / self.in_qty
        out_value = self.out_value + held * last_close
        pnl = self.side * (out_value - self.in_value) - self.fees
        is_open = exit_bar is None
        return Trade(
            entry_date=index[self.bar],
            exit_date=None if is_open else index[exit_bar],
            side="long" if self.side > 0 else "short",
            entry_price=entry_price,
            exit_price=last_close if is_open else self.out_value / self.out_qty,
            size=self.in_qty,
            pnl=pnl,
            return_pct=pnl / self.in_value,
            status="open" if is_open else "closed",
        )


def round_trips(fills: list[Fill], index: pd.DatetimeIndex, last_close: float) -> list[Trade]:
    """Trades in entry order from fills in execution order.

    fills: every executed order of one run.
    index: bar timestamps, to date the trades.
    last_close: close of the last bar, to value a position still open.
    """
    trades: list[Trade] = []
    trade: _TradeInProgress | None = None
    position = 0.0
    for fill in fills:
        after = position + fill.qty  # the engine's own arithmetic, so flat is exactly 0.0
        if trade is None:
            trade = _TradeInProgress(fill.bar, 1.0 if fill.qty > 0 else -1.0)
            trade.add_entry(abs(fill.qty), fill.price, fill.fee)
        elif fill.qty * trade.side > 0:
            trade.add_entry(abs(fill.qty), fill.price, fill.fee)
        else:
            # The part up to flat exits this trade with its share of the fee;
            # any rest opens the next trade on the other side.
            closing = min(abs(fill.qty), abs(position))
            share = closing / abs(fill.qty)
            trade.add_exit(closing, fill.price, fill.fee * share)
            if after * trade.side <= 0.0:
                trades.append(trade.finish(index, fill.bar, last_close, 0.0))
                trade = None
                if after != 0.0:
                    trade = _TradeInProgress(fill.bar, 1.0 if after > 0 else -1.0)
                    trade.add_entry(abs(fill.qty) - closing, fill.price, fill.fee * (1.0 - share))
        position = after
    if trade is not None:
        trades.append(trade.finish(index, None, last_close, abs(position)))
    return trades
