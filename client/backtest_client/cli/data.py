"""`backtest data ...`: market-data series."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from backtest_client.cli import render
from backtest_client.cli.options import JsonOutput
from backtest_client.cli.session import handled, session, stdout

app = typer.Typer(help="Market data: import a file, list the stored series.", no_args_is_help=True)


@app.command("import")
@handled
def import_file(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV or Parquet: timestamp (or date), open, high, low, close, volume.")],
    symbol: Annotated[str, typer.Option("--symbol", "-s", help="Ticker to store it under, e.g. AAPL.")],
    timeframe: Annotated[str, typer.Option("--timeframe", "-t", help="Bar size: 1m, 5m, 15m, 1h, 1d or 1w.")],
    json_output: JsonOutput = False,
) -> None:
    """Import a file of bars, replacing the series."""
    if not file.is_file():
        raise typer.BadParameter(f"{file} is not a file", param_hint="FILE")
    summary = session(ctx).client.market_data.import_file(file, symbol=symbol, timeframe=timeframe)
    if json_output:
        render.emit_json(summary)
    else:
        stdout.print(render.series_table([summary]))


@app.command("list")
@handled
def list_series(ctx: typer.Context, json_output: JsonOutput = False) -> None:
    """List every stored series."""
    series = session(ctx).client.market_data.list()
    if json_output:
        render.emit_json(series)
    else:
        stdout.print(render.series_table(series))
