"""How the strategies-as-data commands print: signal logic and its rule tree, series, plugins and the language."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from backtest_client.cli.render import escape, moment
from backtest_client.signals import ExpressionLanguage, SignalLogic, SignalPlugin, SignalSeriesSummary

COMBINED = {"AND": "all of", "OR": "any of"}


def logic_table(logic: SignalLogic) -> Table:
    """One signal logic's fields (its rule tree apart, see `rule_tree`)."""
    table = Table(show_header=False, title=f"signal logic {logic.id}", title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value")
    rows = [
        ("name", logic.name),
        ("version", str(logic.version)),
        ("modes", f"{logic.output_mode}, {logic.position_mode}"),
        ("description", logic.description or "-"),
        ("strategy", logic.strategy_id or "-"),
        ("updated", logic.updated_at.isoformat() if logic.updated_at is not None else "-"),
    ]
    for name, value in rows:
        table.add_row(name, escape(value))
    return table


def rule_tree(groups: Sequence[Mapping[str, Any]]) -> Tree:
    """The groups as a tree, in the order they are tried: action, how the rules combine, each rule."""
    tree = Tree("[bold]rules[/] (the first group that matches decides)")
    for number, group in enumerate(groups, 1):
        action = str(group.get("action") or "BUY")
        branch = tree.add(f"{number}. [bold]{escape(action)}[/] when {_combined(group)}")
        _add_rules(branch, group.get("rules") or [])
    return tree


def logic_list_table(logics: Sequence[SignalLogic]) -> Table:
    """Stored signal logic, one row each."""
    table = Table("id", "name", "version", "output", "position", "groups", "updated")
    for logic in logics:
        updated = logic.updated_at.strftime("%Y-%m-%d %H:%M") if logic.updated_at is not None else "-"
        table.add_row(
            logic.id,
            escape(logic.name),
            str(logic.version),
            logic.output_mode,
            logic.position_mode,
            str(len(logic.rule_tree)),
            updated,
        )
    return table


def signal_series_table(series: Sequence[SignalSeriesSummary]) -> Table:
    """Stored model-output series."""
    table = Table("name", "symbols", "start", "end", "rows", "sha256")
    for s in series:
        shown = ", ".join(s.symbols[:5]) + (f" (+{len(s.symbols) - 5})" if len(s.symbols) > 5 else "")
        table.add_row(escape(s.name), shown, moment(s.start), moment(s.end), f"{s.rows:,}", s.sha256[:12])
    return table


def plugins_table(plugins: Sequence[SignalPlugin]) -> Table:
    """Every plugin: key, source, parameters with their defaults, and what it does (first sentence)."""
    table = Table(
        "key",
        "source",
        "parameters",
        "what it does",
        title="signal plugins",
        title_justify="left",
        caption="backtest plugins KEY shows one in full (expression: its language)",
        caption_justify="left",
    )
    for plugin in plugins:
        properties = plugin.parameters.get("properties") or {}
        params = ", ".join(_parameter(name, spec) for name, spec in properties.items())
        if _takes_params(plugin):
            params += (", " if params else "") + "$params"
        first = plugin.description.split(". ", 1)[0].rstrip(".")
        table.add_row(f"[bold]{escape(plugin.key)}[/]", escape(plugin.source), escape(params or "-"), escape(first))
    return table


def plugin_detail(plugin: SignalPlugin) -> Group:
    """One plugin: its description, a table of its parameters and, for `expression`, the language."""
    parts: list[Any] = [Text(f"{plugin.key} ({plugin.source})", style="bold"), Text(plugin.description)]
    table = Table("parameter", "type", "default", "allowed", "meaning", title="parameters", title_justify="left")
    for name, spec in (plugin.parameters.get("properties") or {}).items():
        table.add_row(
            escape(name),
            escape(str(spec.get("type", ""))),
            escape(_text(spec.get("default", "-"))),
            escape(_allowed(spec)),
            escape(str(spec.get("description", ""))),
        )
    if _takes_params(plugin):
        extra = plugin.parameters["additionalProperties"]
        table.add_row("$name", escape(str(extra.get("type", ""))), "-", "", escape(str(extra.get("description", ""))))
    parts.append(table)
    if plugin.language is not None:
        parts.extend(language_tables(plugin.language))
    return Group(*parts)


def language_tables(language: ExpressionLanguage) -> list[Table]:
    """The expression language: its functions with arities, then names, operators and limits."""
    functions = Table("function", "arity", "returns", "meaning", title="expression functions", title_justify="left")
    for function in language.functions:
        functions.add_row(
            f"[bold]{escape(function.signature)}[/]",
            str(function.arity),
            escape(function.returns),
            escape(function.description),
        )
    rest = Table(show_header=False, title="expression language", title_justify="left")
    rest.add_column("what", style="bold")
    rest.add_column("value")
    rest.add_row("names", escape(", ".join(language.names)))
    rest.add_row("parameters", escape(language.parameters))
    for kind, operators in language.operators.items():
        rest.add_row(f"{kind} operators", escape(" ".join(operators)))
    rest.add_row("limits", escape(", ".join(f"{name} {value:,}" for name, value in language.limits.items())))
    return [functions, rest]


def _add_rules(parent: Tree, rules: Sequence[Mapping[str, Any]]) -> None:
    for rule in rules:
        if "rules" in rule:
            _add_rules(parent.add(_combined(rule)), rule.get("rules") or [])
        else:
            leaf = f"{rule.get('field', '?')} {rule.get('operator', '?')} {_text(rule.get('value', '?'))}"
            parent.add(escape(leaf))


def _combined(node: Mapping[str, Any]) -> str:
    combinator = str(node.get("combinator") or "AND")
    return COMBINED.get(combinator, escape(combinator))


def _takes_params(plugin: SignalPlugin) -> bool:
    """Whether the plugin takes keys beyond its named parameters ($param values, as `expression` does)."""
    return isinstance(plugin.parameters.get("additionalProperties"), dict)


def _parameter(name: str, spec: Mapping[str, Any]) -> str:
    return f"{name}={_text(spec['default'])}" if "default" in spec else name


def _allowed(spec: Mapping[str, Any]) -> str:
    if "enum" in spec:
        return " | ".join(map(_text, spec["enum"]))
    bounds = ((">= ", "minimum"), ("> ", "exclusiveMinimum"), ("<= ", "maximum"), ("< ", "exclusiveMaximum"))
    return ", ".join(f"{sign}{_text(spec[key])}" for sign, key in bounds if key in spec)


def _text(value: Any) -> str:
    """A JSON value as people read it: whole floats without .0, text as is."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
