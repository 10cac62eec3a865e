"""`backtest grid`: a grid search of up to 10,000 runs, progress, the top of the leaderboard, the runs table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from backtest_client.cli import render
from backtest_client.cli.arguments import sweep_base, value
from backtest_client.cli.options import JsonOutput, NewOrStrategy, RankMetric, SearchBase, SearchEngine
from backtest_client.cli.session import handled, session, stdout
from backtest_client.cli.sweep import search_strategy
from backtest_client.cli.waiting import wait_task
from backtest_client.frames import leaderboard_frame


def space(specs: list[str]) -> dict[str, Any]:
    """`--param` options as a parameter space: `key=v1,v2,...` (a list) or `key=start:stop:step` (a range)."""
    found: dict[str, Any] = {}
    for spec in specs:
        key, sep, raw = spec.partition("=")
        key, raw = key.strip(), raw.strip()
        if not sep or not key or not raw:
            raise typer.BadParameter(f"{spec!r} is not key=v1,v2,... or key=start:stop:step", param_hint="--param")
        if key in found:
            raise typer.BadParameter(f"{key!r} is given twice", param_hint="--param")
        parts = raw.split(":")
        if len(parts) == 3 and "," not in raw:
            found[key] = dict(zip(("start", "stop", "step"), (value(p.strip()) for p in parts), strict=True))
        else:
            found[key] = [value(v.strip()) for v in raw.split(",") if v.strip()]
    return found


@handled
def grid(
    ctx: typer.Context,
    base: SearchBase,
    params: Annotated[
        list[str],
        typer.Option("--param", help="key=v1,v2,... or key=start:stop:step (repeat: the search is their product)."),
    ],
    engine: SearchEngine = None,
    strategy_id: NewOrStrategy = None,
    rank_metric: RankMetric = None,
    top: Annotated[int, typer.Option("--top", help="Leaderboard rows kept and printed (1..1000).")] = 20,
    out: Annotated[Path | None, typer.Option("--out", help="Save every run as this Parquet file.")] = None,
    json_output: JsonOutput = False,
) -> None:
    """Run every combination of the parameters on the fleet, show progress, print the top runs and PBO."""
    parameter_space = space(params)
    base_config, fields = sweep_base(base)
    client = session(ctx).client
    strategy_id = search_strategy(client, strategy_id or fields.get("strategy_id"), base_config, "grid search")
    handle = client.sweeps.grid_search(
        strategy_id,
        base_config,
        parameter_space,
        engine=engine or fields.get("engine"),
        rank_metric=rank_metric or fields.get("rank_metric"),
        top_n=top,
    )
    state = wait_task(
        client,
        handle.task_id,
        what=f"grid {handle.task_id[:8]}",
        show=not json_output,
        announce=f"grid search of {handle.n_configs} of {handle.n_combinations} combinations: task {handle.task_id}",
    )
    if out is not None and state.status == "SUCCESS":
        handle.runs().to_parquet(out)
    if json_output:
        render.emit_json({"task_id": handle.task_id, "status": state.status, **render.jsonable(state.result)})
        return
    stdout.print(render.leaderboard_table(leaderboard_frame(state.result), limit=top or None))
    figures = (state.result or {}).get("overfitting") or {}
    pbo = figures.get("pbo")
    shown = f"{pbo:.2f}" if isinstance(pbo, float) else f"n/a ({figures.get('pbo_unavailable')})"
    stdout.print(f"{figures.get('n_trials', 0)} trials; probability of backtest overfitting {shown}")
    if out is not None:
        stdout.print(f"every run: {out}")
