"""The command tree and the global options (API URL and key, from flags or the environment)."""

from __future__ import annotations

from typing import Annotated

import typer

from backtest_client.cli import control, data, grid, logic, plugins, report, runs, series, sweep
from backtest_client.cli.session import Session
from backtest_client.client import DEFAULT_URL, KEY_VARIABLE, URL_VARIABLE

app = typer.Typer(
    name="backtest",
    help="The backtest platform from a terminal. Every command takes --json.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(data.app, name="data")
app.add_typer(logic.app, name="logic")
app.add_typer(series.app, name="series")
app.command("plugins")(plugins.plugins)
app.command("run")(runs.run)
app.command("show")(runs.show)
app.command("trades")(runs.trades)
app.command("compare")(runs.compare)
app.command("task")(runs.task)
app.command("cancel")(control.cancel)
app.command("watch")(control.watch)
app.command("sweep")(sweep.sweep)
app.command("grid")(grid.grid)
app.command("report")(report.report)


@app.callback()
def options(
    ctx: typer.Context,
    api_url: Annotated[
        str, typer.Option("--api-url", envvar=URL_VARIABLE, help="The gateway's base URL.", show_default=True)
    ] = DEFAULT_URL,
    api_key: Annotated[
        str | None, typer.Option("--api-key", envvar=KEY_VARIABLE, help="API key, when the gateway wants one.")
    ] = None,
) -> None:
    """Global options, read before any command."""
    ctx.obj = Session(api_url, api_key)
