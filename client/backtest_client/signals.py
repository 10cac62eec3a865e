"""Strategies as data, typed: signal logic (versioned rule trees), model-output series and signal plugins.

The rule tree stays the JSON the API speaks (lists and dicts, as a YAML or
JSON file holds it); `RuleGroup`, `Rule` and `RuleBranch` type it for
editors and type checkers. docs/strategies.md has the language and the
rules' meaning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

import pandas as pd

from backtest_client._wire import LanguageWire, SignalLogicWire, SignalPluginWire, SignalSeriesWire
from backtest_client.models import timestamp


class Rule(TypedDict):
    """A leaf: `field` (a number expression) compared by `operator` (> < >= <= == !=) with `value`."""

    field: str
    operator: str
    value: float | str


class RuleBranch(TypedDict):
    """Nested rules joined by `combinator` ("AND" or "OR")."""

    combinator: str
    rules: list[Rule | RuleBranch]


class RuleGroup(TypedDict):
    """One group of a rule tree: when its rules hold, `action` ("BUY", "SELL" or "HOLD"; default BUY)."""

    action: NotRequired[str]
    combinator: NotRequired[str]
    rules: list[Rule | RuleBranch]


RuleTree = list[RuleGroup]


@dataclass(frozen=True)
class SignalLogic:
    """A stored rule tree a backtest can run (`RunConfig(..., logic=...)`), at its current version.

    rule_tree: groups tried in order on every bar; the first that matches decides.
    output_mode: "discrete" (BUY and SELL enter and exit, positions held between) or "numeric"
        (each bar's own action is its exposure).
    position_mode: "long_only" (SELL exits) or "long_short" (SELL goes short).
    strategy_id: the strategy it belongs to, if any.
    version: from 1; every update adds one, and a run records the version it used.
    """

    id: str
    name: str
    description: str | None
    rule_tree: RuleTree
    output_mode: str
    position_mode: str
    strategy_id: str | None
    version: int
    created_at: pd.Timestamp | None
    updated_at: pd.Timestamp | None

    @classmethod
    def from_wire(cls, wire: SignalLogicWire) -> SignalLogic:
        """A signal logic from GET /signal-logic/{id}."""
        return cls(
            id=wire["id"],
            name=wire["name"],
            description=wire.get("description"),
            rule_tree=list(wire["rule_tree"]),  # type: ignore[arg-type]
            output_mode=wire["output_mode"],
            position_mode=wire["position_mode"],
            strategy_id=wire.get("strategy_id"),
            version=int(wire["version"]),
            created_at=timestamp(wire.get("created_at")),
            updated_at=timestamp(wire.get("updated_at")),
        )


@dataclass(frozen=True)
class SignalSeriesSummary:
    """A stored model-output series, read by `series("name")` in expressions.

    symbols: the symbols it has values for. start, end: its first and last timestamp.
    rows: how many values. sha256: hash of the stored file.
    """

    name: str
    symbols: list[str]
    start: pd.Timestamp
    end: pd.Timestamp
    rows: int
    sha256: str

    @classmethod
    def from_wire(cls, wire: SignalSeriesWire) -> SignalSeriesSummary:
        """A series from GET /signal-series/{name}."""
        return cls(
            name=wire["name"],
            symbols=list(wire.get("symbols") or []),
            start=pd.Timestamp(wire["start"]),
            end=pd.Timestamp(wire["end"]),
            rows=int(wire["rows"]),
            sha256=wire["sha256"],
        )


@dataclass(frozen=True)
class LanguageFunction:
    """A function of the expression language.

    signature: e.g. "sma(x, n)". arity: how many arguments it takes.
    arguments: (name, kind) of each, e.g. ("n", "a constant whole number >= 1 (a number or a $param)").
    returns: what it gives ("a number", "a condition", ...).
    """

    name: str
    arity: int
    signature: str
    arguments: list[tuple[str, str]]
    returns: str
    description: str


@dataclass(frozen=True)
class ExpressionLanguage:
    """The language of the `expression` plugin and of rule trees, as the platform describes it.

    names: the bar names (open, high, low, close, volume). parameters: how a $param reads.
    operators: by kind (arithmetic, comparison, logical). limits: e.g. {"max_text_bytes": 4096, ...}.
    """

    names: list[str]
    parameters: str
    operators: dict[str, list[str]]
    functions: list[LanguageFunction]
    limits: dict[str, int]

    def function(self, name: str) -> LanguageFunction:
        """The function called `name`; KeyError when the language has none."""
        for candidate in self.functions:
            if candidate.name == name:
                return candidate
        raise KeyError(f"the expression language has no function {name!r}")

    @classmethod
    def from_wire(cls, wire: LanguageWire) -> ExpressionLanguage:
        """The `language` of the expression plugin's entry in GET /signal-plugins."""
        return cls(
            names=list(wire.get("names") or []),
            parameters=str(wire.get("parameters", "")),
            operators={kind: list(ops) for kind, ops in (wire.get("operators") or {}).items()},
            functions=[
                LanguageFunction(
                    name=f["name"],
                    arity=int(f["arity"]),
                    signature=f["signature"],
                    arguments=[(a["name"], a["kind"]) for a in f.get("arguments") or []],
                    returns=f.get("returns", ""),
                    description=f.get("description", ""),
                )
                for f in wire.get("functions") or []
            ],
            limits={name: int(limit) for name, limit in (wire.get("limits") or {}).items()},
        )


@dataclass(frozen=True)
class SignalPlugin:
    """A signal plugin a config can name (`RunConfig(plugin=key)`).

    parameters: the JSON Schema (2020-12) of its params.
    source: "built-in", or the installed package that provides it.
    language: for the `expression` plugin, the language its expressions are written in; else None.
    """

    key: str
    description: str
    parameters: dict[str, Any]
    source: str
    language: ExpressionLanguage | None

    @property
    def parameter_names(self) -> list[str]:
        """The named parameters of its schema (the expression plugin also takes any $param value)."""
        return sorted((self.parameters.get("properties") or {}).keys())

    @classmethod
    def from_wire(cls, wire: SignalPluginWire) -> SignalPlugin:
        """A plugin from GET /signal-plugins."""
        language = wire.get("language")
        return cls(
            key=wire["key"],
            description=wire.get("description", ""),
            parameters=dict(wire.get("parameters") or {}),
            source=wire.get("source", ""),
            language=ExpressionLanguage.from_wire(language) if language else None,
        )
