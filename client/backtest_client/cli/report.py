"""`backtest report`: save (or open) a run's tearsheet or a sweep's report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from backtest_client.cli import render
from backtest_client.cli.options import JsonOutput
from backtest_client.cli.session import handled, session, stdout


@handled
def report(
    ctx: typer.Context,
    ident: Annotated[str, typer.Argument(metavar="ID", help="Backtest id (or task id with --task).")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="HTML file to write; default report_<ID>.html.")
    ] = None,
    task: Annotated[bool, typer.Option("--task", help="ID is a task: a sweep's report.")] = False,
    open_browser: Annotated[bool, typer.Option("--open", help="Open the page in a browser as well.")] = False,
    json_output: JsonOutput = False,
) -> None:
    """Write the HTML report of a completed backtest (or a finished sweep) to a file."""
    reports = session(ctx).client.reports
    page = reports.task(ident) if task else reports.backtest(ident)
    path = page.save(output)
    if open_browser:
        import webbrowser

        webbrowser.open(path.resolve().as_uri())
    if json_output:
        render.emit_json({"path": str(path), "bytes": path.stat().st_size})
    else:
        stdout.print(f"wrote {render.escape(str(path))} ({path.stat().st_size:,} bytes)")
