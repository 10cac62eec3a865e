"""`backtest sweep`: a parameter sweep with a live progress bar, then the leaderboard."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from backtest_client.cli import render
from backtest_client.cli.arguments import grid, sweep_base
from backtest_client.cli.options import JsonOutput, NewOrStrategy, RankMetric, SearchBase, SearchEngine
from backtest_client.cli.session import handled, session, stdout
from backtest_client.cli.waiting import wait_task
from backtest_client.client import Client, signal_name
from backtest_client.frames import leaderboard_frame


@handled
def sweep(
    ctx: typer.Context,
    base: SearchBase,
    grids: Annotated[
        list[str],
        typer.Option("--grid", help="key=value1,value2,... (repeat: the sweep is their cartesian product)."),
    ],
    engine: SearchEngine = None,
    strategy_id: NewOrStrategy = None,
    rank_metric: RankMetric = None,
    top: Annotated[int, typer.Option("--top", help="Leaderboard rows to print; 0 for all.")] = 20,
    json_output: JsonOutput = False,
) -> None:
    """Run one backtest per grid point on the fleet, show progress, print the leaderboard."""
    axes = grid(grids)
    base_config, fields = sweep_base(base)
    client = session(ctx).client
    strategy_id = search_strategy(client, strategy_id or fields.get("strategy_id"), base_config, "sweep")
    handle = client.sweeps.create(
        strategy_id,
        base_config,
        axes,
        engine=engine or fields.get("engine"),
        rank_metric=rank_metric or fields.get("rank_metric"),
    )
    state = wait_task(
        client,
        handle.task_id,
        what=f"sweep {handle.task_id[:8]}",
        show=not json_output,
        announce=f"sweep of {handle.n_configs} runs: task {handle.task_id}",
    )
    board = leaderboard_frame(state.result)
    if json_output:
        render.emit_json({"task_id": handle.task_id, "status": state.status, **render.jsonable(state.result)})
        return
    stdout.print(render.leaderboard_table(board, limit=top or None))


def search_strategy(client: Client, strategy_id: str | None, base_config: dict[str, Any], kind: str) -> str:
    """The strategy a sweep or grid search runs under: the one given, or a new one named for its signal."""
    if strategy_id is not None:
        return strategy_id
    symbol = str(base_config.get("symbol", ""))
    name = f"{kind}: {signal_name(base_config)} on {symbol}"
    return client.strategies.create(name, universe=[symbol] if symbol else []).id
