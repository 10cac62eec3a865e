"""`backtest run | show | trades | compare | task`: single runs (of a plugin or a signal logic) and their results."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer

from backtest_client.cli import render
from backtest_client.cli.arguments import assignments
from backtest_client.cli.options import JsonOutput, NewOrStrategy
from backtest_client.cli.session import FAILED, handled, session, stderr, stdout
from backtest_client.cli.waiting import wait_task
from backtest_client.errors import RunFailedError
from backtest_client.frames import leaderboard_frame
from backtest_client.models import OPTIONS, BacktestSpec, RunConfig


@handled
def run(
    ctx: typer.Context,
    symbol: Annotated[str, typer.Option("--symbol", "-s", help="Ticker of a stored series.")],
    start: Annotated[str, typer.Option("--from", help="First bar, e.g. 2020-01-01.")],
    end: Annotated[str, typer.Option("--to", help="Last bar, e.g. 2024-01-01.")],
    engine: Annotated[str, typer.Option("--engine", "-e", help="vectorbt or backtrader.")] = "vectorbt",
    timeframe: Annotated[str, typer.Option("--timeframe", "-t", help="Bar size of the series.")] = "1d",
    plugin: Annotated[
        str | None, typer.Option("--plugin", help="Signal plugin key (default crossover_signal).")
    ] = None,
    logic: Annotated[
        str | None, typer.Option("--logic", help="Signal logic id to run instead of a plugin; -p sets its $params.")
    ] = None,
    params: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Plugin parameter or $param name=value (repeat).")
    ] = None,
    settings: Annotated[
        list[str] | None,
        typer.Option("--set", help=f"Config option name=value (repeat): {', '.join(OPTIONS)}."),
    ] = None,
    strategy_id: NewOrStrategy = None,
    capital: Annotated[float | None, typer.Option("--capital", help="Initial capital (default 100000).")] = None,
    commission: Annotated[float | None, typer.Option("--commission", help="Fraction (default 0.0005).")] = None,
    slippage: Annotated[float | None, typer.Option("--slippage", help="Fraction (default 0.0005).")] = None,
    json_output: JsonOutput = False,
) -> None:
    """Create a backtest of a plugin or a signal logic (and a strategy if none is given), run it, print its metrics."""
    extra = assignments(settings or [], "--set")
    unknown = sorted(set(extra) - set(OPTIONS))
    if unknown:
        raise typer.BadParameter(f"unknown config option(s) {', '.join(unknown)}", param_hint="--set")
    if plugin is not None and logic is not None:
        raise typer.BadParameter("a run has a --plugin or a --logic, not both", param_hint="--logic")
    params_given = assignments(params or [], "--param")
    config = RunConfig(symbol, start, end, plugin, params_given, timeframe, logic=logic, **extra)
    client = session(ctx).client
    if strategy_id is None:
        strategy_id = client.strategies.create(f"{config.signal} on {symbol}", universe=[symbol]).id
    backtest = client.backtests.create(BacktestSpec(strategy_id, config, engine, capital, commission, slippage))
    task = client.backtests.submit(backtest.id)
    state = wait_task(
        client,
        task.task_id,
        what=f"backtest {backtest.id[:8]}",
        show=not json_output,
        announce=f"backtest {backtest.id} running as task {task.task_id}",
    )
    done = client.backtests.get(backtest.id)
    if state.status != "SUCCESS" or done.status != "completed":
        raise RunFailedError(backtest.id, done.error or state.error or state.status, task_id=task.task_id)
    _print_backtest(done, json_output)


@handled
def show(
    ctx: typer.Context,
    backtest_id: Annotated[str, typer.Argument(help="Backtest id.")],
    json_output: JsonOutput = False,
) -> None:
    """Show a backtest: its config, status and metrics."""
    _print_backtest(session(ctx).client.backtests.get(backtest_id), json_output)


@handled
def trades(
    ctx: typer.Context,
    backtest_id: Annotated[str, typer.Argument(help="A completed backtest's id.")],
    limit: Annotated[int, typer.Option("--limit", "-n", help="Rows to print; 0 for all (the JSON has all).")] = 50,
    start: Annotated[str | None, typer.Option("--from", help="Only trades entered from then (ISO-8601).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Only trades entered until then, inclusive.")] = None,
    json_output: JsonOutput = False,
) -> None:
    """List a completed run's trades (from its Parquet download; --from/--to: those entered in that window)."""
    frame = session(ctx).client.backtests.trades(backtest_id, start=start, end=end)
    if json_output:
        render.emit_json(frame)
        return
    frame.index.name = "#"
    stdout.print(render.frame_table(frame, title=f"{len(frame):,} trades of {backtest_id}", limit=limit or None))
    if limit and len(frame) > limit:
        render_note(f"{len(frame) - limit:,} more; --limit 0 prints all")


@handled
def compare(
    ctx: typer.Context,
    backtest_ids: Annotated[list[str], typer.Argument(help="2 to 10 backtest ids.")],
    json_output: JsonOutput = False,
) -> None:
    """Compare runs side by side, the best run per metric marked."""
    frame = session(ctx).client.compare(*backtest_ids)
    if json_output:
        render.emit_json(frame.reset_index().to_dict(orient="records"))
    else:
        stdout.print(render.compare_table(frame))


@handled
def task(
    ctx: typer.Context,
    task_id: Annotated[str, typer.Argument(help="Task id (printed by run and sweep).")],
    wait: Annotated[bool, typer.Option("--wait", help="Wait for it to finish, with progress.")] = False,
    json_output: JsonOutput = False,
) -> None:
    """Show a task; with --wait, follow it to the end (a sweep then prints its leaderboard)."""
    client = session(ctx).client
    state = client.tasks.get(task_id)
    if wait and not state.done:
        state = wait_task(client, task_id, what=f"{state.kind} {task_id[:8]}", show=not json_output)
    if json_output:
        render.emit_json(state)
    else:
        stdout.print(render.task_table(state))
        if state.kind == "sweep" and state.done:
            stdout.print(render.leaderboard_table(leaderboard_frame(state.result), limit=20))
    if state.status == "FAILURE":
        raise typer.Exit(FAILED)


def render_note(text: str) -> None:
    """A line for people on stderr (never in --json output)."""
    stderr.print(f"[dim]{render.escape(text)}[/]")


def _print_backtest(backtest, json_output: bool) -> None:
    if json_output:
        render.emit_json(dataclasses.asdict(backtest))
        return
    stdout.print(render.backtest_table(backtest))
    if backtest.status == "completed":
        stdout.print(render.metrics_table(backtest))
