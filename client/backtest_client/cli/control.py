"""`backtest cancel | watch`: stop a task, or follow its progress live as the platform streams it."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from backtest_client.cli import render
from backtest_client.cli.options import JsonOutput
from backtest_client.cli.session import FAILED, StoppedWaiting, handled, session, stderr, stdout
from backtest_client.models import TaskUpdate
from backtest_client.progress import ProgressBar

TaskId = Annotated[str, typer.Argument(help="Task id (printed by run and sweep).")]


@handled
def cancel(ctx: typer.Context, task_id: TaskId, json_output: JsonOutput = False) -> None:
    """Cancel a task: queued runs are dropped, nothing is left running; it ends REVOKED with its counts."""
    state = session(ctx).client.cancel_task(task_id)
    if json_output:
        render.emit_json(state)
    else:
        stdout.print(render.task_table(state))


@handled
def watch(ctx: typer.Context, task_id: TaskId, json_output: JsonOutput = False) -> None:
    """Follow a task live until it ends: a bar with the best run so far (--json: one JSON line per update)."""
    client = session(ctx).client
    bar = None if json_output else ProgressBar(f"task {task_id[:8]}", console=stderr)
    last: TaskUpdate | None = None
    try:
        for update in client.watch_task(task_id):
            last = update
            if bar is not None:
                bar.update(update)
            else:
                sys.stdout.write(json.dumps(render.jsonable(update), allow_nan=False) + "\n")
                sys.stdout.flush()
    except KeyboardInterrupt:
        raise StoppedWaiting(task_id, f"task {task_id[:8]}") from None
    finally:
        if bar is not None:
            bar.close()
    if last is None:
        return
    if bar is not None:
        progress = last.progress
        line = f"{last.status}: {progress.succeeded} succeeded, {progress.failed} failed"
        line += f", {progress.revoked} revoked" if progress.revoked else ""
        if last.best is not None:
            line += f"; best {last.best.metric} {render.metric(last.best.metric, last.best.value)}"
            line += f" ({last.best.backtest_id})"
        stdout.print(render.escape(line))
    if last.status == "FAILURE":
        raise typer.Exit(FAILED)
