"""HTML tearsheets built by the results service from stored artifacts.

One self-contained page per backtest (`GET /api/v1/backtests/{id}/report`)
and per finished task (`GET /api/v1/tasks/{id}/report`). Charts are inline
SVG drawn here, server-side: no script, no stylesheet or font to fetch, so a
saved page opens anywhere, offline, and a million-bar run draws a few
thousand points (see `downsample`).

- `downsample`: which points of a long series to draw (extremes kept).
- `analytics`: drawdown, buy-and-hold, monthly returns, rolling Sharpe, P&L bins.
- `svg`: the chart primitives; `page`: the HTML skeleton, styles and tables.
- `tearsheet`, `sweep_page`: the two pages; `inputs`, `catalog_reads`: what they read.
- `rpc`: the two ResultsService methods.
"""
