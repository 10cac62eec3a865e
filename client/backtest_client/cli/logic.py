"""`backtest logic ...`: signal logic, rule-tree strategies kept as versioned data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from backtest_client.cli import render, render_signals
from backtest_client.cli.arguments import logic_document
from backtest_client.cli.options import JsonOutput
from backtest_client.cli.session import handled, session, stdout
from backtest_client.signals import SignalLogic

app = typer.Typer(
    help="Signal logic: rule trees over expressions, stored and versioned (docs/strategies.md).",
    no_args_is_help=True,
)

Name = Annotated[str | None, typer.Option("--name", help="Name (overrides the file's).")]
Description = Annotated[str | None, typer.Option("--description", help="Free text (overrides the file's).")]
OutputMode = Annotated[
    str | None, typer.Option("--output-mode", help="discrete (default) or numeric (overrides the file's).")
]
PositionMode = Annotated[
    str | None, typer.Option("--position-mode", help="long_short (default) or long_only (overrides the file's).")
]
StrategyId = Annotated[str | None, typer.Option("--strategy", help="Strategy it belongs to (overrides the file's).")]
LogicId = Annotated[str, typer.Argument(metavar="ID", help="Signal logic id.")]


@app.command("create")
@handled
def create(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(help="JSON or YAML: name, rule_tree, output_mode, position_mode, description, ...")
    ],
    name: Name = None,
    description: Description = None,
    output_mode: OutputMode = None,
    position_mode: PositionMode = None,
    strategy_id: StrategyId = None,
    json_output: JsonOutput = False,
) -> None:
    """Store a rule tree from a file as a new signal logic (version 1)."""
    fields = _fields(file, name, description, output_mode, position_mode, strategy_id)
    missing = [field for field in ("name", "rule_tree") if field not in fields]
    if missing:
        raise typer.BadParameter(f"{file} gives no {' or '.join(missing)} (--name can name it)", param_hint="FILE")
    logic = session(ctx).client.signal_logic.create(fields.pop("name"), fields.pop("rule_tree"), **fields)
    _print_logic(logic, json_output)


@app.command("list")
@handled
def list_logic(
    ctx: typer.Context,
    skip: Annotated[int, typer.Option("--skip", help="How many to pass over.")] = 0,
    limit: Annotated[int, typer.Option("--limit", "-n", help="At most how many (1..1000).")] = 100,
    json_output: JsonOutput = False,
) -> None:
    """List stored signal logic, newest first."""
    logics = session(ctx).client.signal_logic.list(skip=skip, limit=limit)
    if json_output:
        render.emit_json(logics)
    else:
        stdout.print(render_signals.logic_list_table(logics))


@app.command("show")
@handled
def show(ctx: typer.Context, logic_id: LogicId, json_output: JsonOutput = False) -> None:
    """Show a signal logic at its current version, its rule tree drawn."""
    _print_logic(session(ctx).client.signal_logic.get(logic_id), json_output)


@app.command("update")
@handled
def update(
    ctx: typer.Context,
    logic_id: LogicId,
    file: Annotated[
        Path | None, typer.Argument(help="JSON or YAML of the fields to change (see create); optional.")
    ] = None,
    name: Name = None,
    description: Description = None,
    output_mode: OutputMode = None,
    position_mode: PositionMode = None,
    strategy_id: StrategyId = None,
    json_output: JsonOutput = False,
) -> None:
    """Change a signal logic's fields (from a file and options): a new version, used by runs claimed from now."""
    fields = _fields(file, name, description, output_mode, position_mode, strategy_id)
    if not fields:
        raise typer.BadParameter("give a FILE or an option to change (--name, --description, ...)")
    _print_logic(session(ctx).client.signal_logic.update(logic_id, **fields), json_output)


@app.command("delete")
@handled
def delete(ctx: typer.Context, logic_id: LogicId, json_output: JsonOutput = False) -> None:
    """Delete a signal logic (refused while a backtest names it)."""
    session(ctx).client.signal_logic.delete(logic_id)
    if json_output:
        render.emit_json({"deleted": logic_id})
    else:
        stdout.print(f"deleted signal logic {render.escape(logic_id)}")


def _fields(file: Path | None, *given: str | None) -> dict[str, Any]:
    """The file's fields (none without a file), the options given overriding them."""
    fields = logic_document(file) if file is not None else {}
    names = ("name", "description", "output_mode", "position_mode", "strategy_id")
    fields.update({name: value for name, value in zip(names, given, strict=True) if value is not None})
    return fields


def _print_logic(logic: SignalLogic, json_output: bool) -> None:
    if json_output:
        render.emit_json(logic)
        return
    stdout.print(render_signals.logic_table(logic))
    stdout.print(render_signals.rule_tree(logic.rule_tree))
