"""`backtest plugins`: the signal plugins a run can name, and the expression language."""

from __future__ import annotations

from typing import Annotated

import typer

from backtest_client.cli import render, render_signals
from backtest_client.cli.options import JsonOutput
from backtest_client.cli.session import handled, session, stdout
from backtest_client.errors import NotFoundError


@handled
def plugins(
    ctx: typer.Context,
    key: Annotated[
        str | None, typer.Argument(help="One plugin: its parameters (and, for expression, the language).")
    ] = None,
    json_output: JsonOutput = False,
) -> None:
    """List the signal plugins with their parameters; with KEY, one plugin in full."""
    listed = session(ctx).client.signal_plugins.list()
    if key is None:
        if json_output:
            render.emit_json(listed)
        else:
            stdout.print(render_signals.plugins_table(listed))
        return
    found = next((plugin for plugin in listed if plugin.key == key), None)
    if found is None:
        known = ", ".join(plugin.key for plugin in listed)
        raise NotFoundError(f"no signal plugin {key!r}; the platform has {known}")
    if json_output:
        render.emit_json(found)
    else:
        stdout.print(render_signals.plugin_detail(found))
