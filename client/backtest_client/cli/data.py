"""`backtest data ...`: market-data series."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from backtest_client.cli import render
from backtest_client.cli.options import JsonOutput
from backtest_client.cli.session import handled, session, stdout

app = typer.Typer(
    help="Market data: import or append a file, list the stored series, download their bars.", no_args_is_help=True
)


@app.command("import")
@handled
def import_file(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV or Parquet: timestamp (or date), open, high, low, close, volume.")],
    symbol: Annotated[str, typer.Option("--symbol", "-s", help="Ticker to store it under, e.g. AAPL.")],
    timeframe: Annotated[str, typer.Option("--timeframe", "-t", help="Bar size: 1m, 5m, 15m, 1h, 1d or 1w.")],
    append: Annotated[
        bool, typer.Option("--append", help="Add the bars after the series' last one instead of replacing it.")
    ] = False,
    json_output: JsonOutput = False,
) -> None:
    """Import a file of bars of any size (streamed), replacing the series, or appending to it with --append."""
    if not file.is_file():
        raise typer.BadParameter(f"{file} is not a file", param_hint="FILE")
    summary = session(ctx).client.market_data.import_file(file, symbol=symbol, timeframe=timeframe, append=append)
    if json_output:
        render.emit_json(summary)
    else:
        stdout.print(render.series_table([summary]))


@app.command("download")
@handled
def download(
    ctx: typer.Context,
    symbol: Annotated[str, typer.Option("--symbol", "-s", help="Ticker of the series.")],
    timeframe: Annotated[str, typer.Option("--timeframe", "-t", help="Bar size of the series.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write: .csv, .json, else Parquet.")],
    start: Annotated[str | None, typer.Option("--from", help="First bar to include (ISO-8601).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last bar to include (ISO-8601).")] = None,
) -> None:
    """Download a series' stored bars (streamed to the file): the data runs read."""
    file_format = {".csv": "csv", ".json": "json"}.get(output.suffix.lower(), "parquet")
    session(ctx).client.market_data.download(symbol, timeframe, output, start=start, end=end, file_format=file_format)
    stdout.print(f"wrote {output} ({output.stat().st_size} bytes)")


@app.command("list")
@handled
def list_series(ctx: typer.Context, json_output: JsonOutput = False) -> None:
    """List every stored series."""
    series = session(ctx).client.market_data.list()
    if json_output:
        render.emit_json(series)
    else:
        stdout.print(render.series_table(series))
