"""`BacktestResult.plot()`: equity and drawdown with matplotlib, an optional dependency."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backtest_client.results import BacktestResult


def plot_result(result: BacktestResult, **figure_options: Any):
    """A Figure of two panels sharing the date axis: equity above, drawdown (underwater) below.

    result: a completed run.
    figure_options: passed to `matplotlib.pyplot.subplots`.
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("result.plot() needs matplotlib: pip install 'backtest-client[plot]'") from None
    equity = result.equity
    drawdown = equity / equity.cummax() - 1.0
    options = {"figsize": (11, 6), "sharex": True, "gridspec_kw": {"height_ratios": [3, 1]}, **figure_options}
    figure, (top, bottom) = plt.subplots(2, 1, **options)
    top.plot(equity.index, equity.to_numpy(), color="#1d4ed8", linewidth=1.2)
    config = result.backtest.config
    top.set_title(f"{config.symbol} {config.timeframe} · {result.backtest.engine} · {config.plugin}")
    top.set_ylabel("equity")
    top.grid(alpha=0.3)
    bottom.fill_between(drawdown.index, drawdown.to_numpy(), 0.0, color="#dc2626", alpha=0.35, linewidth=0)
    bottom.plot(drawdown.index, drawdown.to_numpy(), color="#dc2626", linewidth=0.8)
    bottom.set_ylabel("drawdown")
    bottom.yaxis.set_major_formatter(lambda value, _: f"{value:.0%}")
    bottom.grid(alpha=0.3)
    figure.tight_layout()
    return figure
