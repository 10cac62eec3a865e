"""`backtest series ...`: model-output series that expressions read with `series("name")`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from backtest_client.cli import render, render_signals
from backtest_client.cli.options import JsonOutput
from backtest_client.cli.session import handled, session, stdout

app = typer.Typer(help="Model-output series: import a file, list the stored series.", no_args_is_help=True)


@app.command("import")
@handled
def import_file(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV or Parquet: timestamp (or date), symbol, value.")],
    name: Annotated[str, typer.Option("--name", help='Series name, as series("name") reads it.')],
    json_output: JsonOutput = False,
) -> None:
    """Import a file of values per symbol and timestamp, replacing the series of that name."""
    if not file.is_file():
        raise typer.BadParameter(f"{file} is not a file", param_hint="FILE")
    summary = session(ctx).client.signal_series.import_file(file, name=name)
    if json_output:
        render.emit_json(summary)
    else:
        stdout.print(render_signals.signal_series_table([summary]))


@app.command("list")
@handled
def list_series(ctx: typer.Context, json_output: JsonOutput = False) -> None:
    """List every stored model-output series."""
    series = session(ctx).client.signal_series.list()
    if json_output:
        render.emit_json(series)
    else:
        stdout.print(render_signals.signal_series_table(series))
