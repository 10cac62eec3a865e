"""Rule trees (signal logic): groups of comparisons over expressions, first match decides each bar.

A tree is a list of groups `{action, combinator, rules}`; a rule is a leaf
`{field, operator, value}` (field an expression, value a number or an
expression, both numbers) or a branch `{combinator, rules}`. Per bar the
first group whose rules hold gives the action: BUY goes long, SELL goes
short (long_short) or flat (long_only), HOLD or no match keeps the
position (`output_mode` discrete). With `output_mode` numeric the exposure
is the bar's own action, not a held state: +1 on a BUY bar, -1 (or 0 in
long_only) on a SELL bar, 0 otherwise. Evaluation is whole-array, and one
Evaluation shares every sub-expression across the tree and across a
sweep's parameter sets.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from services.domain.errors import FieldViolation, ValidationError
from services.domain.expressions.evaluator import Evaluation, compare
from services.domain.expressions.functions import NUMBER
from services.domain.expressions.limits import MAX_DEPTH, MAX_RULE_NODES
from services.domain.expressions.params import resolve_params
from services.domain.expressions.parser import COMPARISONS, Expression, parse_expression
from services.domain.expressions.positions import actions_to_exposure

ACTIONS = ("BUY", "SELL", "HOLD")
COMBINATORS = ("AND", "OR")
POSITION_MODES = ("long_only", "long_short")
OUTPUT_MODES = ("discrete", "numeric")
_GROUP_KEYS = {"action", "combinator", "rules"}
_LEAF_KEYS = {"field", "operator", "value"}
_BRANCH_KEYS = {"combinator", "rules"}


@dataclass(frozen=True)
class Leaf:
    """`field operator value`; `value` is a float or an expression; paths name them in errors."""

    field: Expression
    operator: str
    value: Expression | float
    path: str


@dataclass(frozen=True)
class Branch:
    """Rules joined by AND or OR (a group's rules are a Branch too)."""

    combinator: str
    rules: tuple[Leaf | Branch, ...]


@dataclass(frozen=True)
class Group:
    """The action taken on a bar where `condition` holds and no earlier group's does."""

    action: str
    condition: Branch


@dataclass(frozen=True)
class RuleTree:
    """A validated rule tree.

    groups: in order; the first that matches a bar decides it.
    position_mode: long_only or long_short.
    output_mode: discrete (actions are entries and exits, positions held between) or numeric
        (the exposure is each bar's action, flat where none).
    expressions: every expression with its dotted path, in tree order.
    """

    groups: tuple[Group, ...]
    position_mode: str
    output_mode: str
    expressions: tuple[tuple[Expression, str], ...]

    @property
    def params(self) -> list[str]:
        """Names of the $params the tree uses (without $), sorted."""
        return sorted({name for expression, _ in self.expressions for name in expression.params})

    @property
    def series(self) -> list[str]:
        """Names of the model-output series the tree reads (its `series(...)` calls), sorted."""
        return sorted({name for expression, _ in self.expressions for name in expression.series})

    def check_params(self, params: Mapping[str, Any] | None, field_prefix: str) -> dict[str, float]:
        """The $param values the tree uses, as floats, from `params` (a backtest's signal_plugin_params).

        field_prefix: dotted path of `params`, e.g. `config.signal_plugin_params`.
        Raises ValidationError: a key the tree does not use or not a finite number (at that key),
        a missing $param or a window that is not a whole number within MAX_WINDOW (at the expression's
        path and position).
        """
        if params is None:
            params = {}
        if not isinstance(params, Mapping):
            raise ValidationError.single(field_prefix, "must be an object")
        values, violations = resolve_params(self.expressions, params, field_prefix)
        if violations:
            raise ValidationError(violations)
        return values

    def exposure(
        self,
        bars: pd.DataFrame,
        params: Mapping[str, Any] | None = None,
        *,
        series: Mapping[str, Any] | None = None,
        evaluation: Evaluation | None = None,
    ) -> np.ndarray:
        """Target exposure in [-1, 1] on every bar.

        bars: OHLCV frame.
        params: the $param values (unchecked here: run check_params first for field-named errors).
        series: aligned model-output series by name (used when no `evaluation` is given).
        evaluation: an Evaluation over the same bars to share indicators with (a sweep's batch).
        Raises ValidationError for a window longer than the bars, a missing $param or series.
        """
        evaluation = evaluation or Evaluation(bars, series)
        values = evaluation.evaluate(self.expressions, params or {})
        by_path = {path: value for (_, path), value in zip(self.expressions, values, strict=True)}
        sell = -1.0 if self.position_mode == "long_short" else 0.0
        codes = {"BUY": 1.0, "SELL": sell, "HOLD": np.nan}
        conditions = [_holds(group.condition, by_path) for group in self.groups]
        action = np.select(conditions, [codes[g.action] for g in self.groups], default=np.nan)
        exposure = actions_to_exposure(action, hold=self.output_mode == "discrete")
        return np.clip(np.nan_to_num(exposure, nan=0.0), -1.0, 1.0)

    def exposure_many(
        self,
        bars: pd.DataFrame,
        params_list: Sequence[Mapping[str, Any] | None],
        *,
        series: Mapping[str, Any] | None = None,
    ) -> list[np.ndarray]:
        """`exposure` for each parameter set over the same bars, each indicator computed once."""
        evaluation = Evaluation(bars, series)
        return [self.exposure(bars, params, evaluation=evaluation) for params in params_list]


def _holds(rule: Leaf | Branch, values: Mapping[str, np.ndarray]) -> np.ndarray:
    if isinstance(rule, Leaf):
        right = rule.value if isinstance(rule.value, float) else values[f"{rule.path}.value"]
        return compare(rule.operator, values[f"{rule.path}.field"], right)
    parts = [_holds(child, values) for child in rule.rules]  # depth <= MAX_DEPTH by validation
    combine = np.logical_and if rule.combinator == "AND" else np.logical_or
    return combine.reduce(parts) if len(parts) > 1 else parts[0]


def parse_rule_tree(
    rule_tree: Any,
    *,
    position_mode: Any = "long_short",
    output_mode: Any = "discrete",
    field: str = "rule_tree",
) -> RuleTree:
    """Validate a rule tree as stored in a signal-logic resource (JSON-like lists and dicts).

    rule_tree: the list of groups.
    position_mode: long_only or long_short (the seed's portfolio mode is refused: a run trades one symbol).
    output_mode: discrete or numeric (see the module docstring).
    field: dotted path of the tree; violations name e.g. `rule_tree[0].rules[1].field`, with the
        position inside that expression.
    Raises ValidationError listing every violation: bad shapes and unknown keys, actions, combinators,
    operators, expressions (syntax, names, types, windows written as numbers), depth beyond MAX_DEPTH
    and more than MAX_RULE_NODES nodes.
    """
    checker = _Checker()
    groups = checker.groups(rule_tree, field)
    if position_mode not in POSITION_MODES:
        hint = "; portfolio is not supported: a run trades one symbol" if position_mode == "portfolio" else ""
        checker.fail("position_mode", f"must be one of {', '.join(POSITION_MODES)}{hint}")
    if output_mode not in OUTPUT_MODES:
        checker.fail("output_mode", f"must be one of {', '.join(OUTPUT_MODES)}")
    if checker.violations:
        raise ValidationError(checker.violations)
    return RuleTree(tuple(groups), position_mode, output_mode, tuple(checker.expressions))


def check_position_mode(position_mode: str, allow_short: bool, *, field: str = "config.signal_logic_id") -> None:
    """Raise ValidationError naming `field` when a long_short tree meets a run that does not allow shorts."""
    if position_mode == "long_short" and not allow_short:
        raise ValidationError.single(
            field,
            "the signal logic's position_mode is long_short but config.allow_short is false; "
            "allow shorts or use a long_only signal logic",
        )


class _Checker:
    """Walks the JSON tree once, collecting every violation; stops descending past the limits."""

    def __init__(self) -> None:
        self.violations: list[FieldViolation] = []
        self.expressions: list[tuple[Expression, str]] = []
        self.nodes = 0

    def fail(self, path: str, description: str) -> None:
        self.violations.append(FieldViolation(path, description))

    def groups(self, raw: Any, path: str) -> list[Group]:
        if not isinstance(raw, list) or not raw:
            self.fail(path, "must be a non-empty list of rule groups")
            return []
        groups = []
        for index, item in enumerate(raw):
            here = f"{path}[{index}]"
            if not self.count(here):
                break
            if not isinstance(item, Mapping):
                self.fail(here, "must be a rule group {action, combinator, rules}")
                continue
            self.unknown(item, _GROUP_KEYS, here)
            action = self.choice(item, "action", ACTIONS, "BUY", here)
            condition = self.branch(item, here, depth=1)
            if action is not None and condition is not None:
                groups.append(Group(action, condition))
        return groups

    def branch(self, item: Mapping[str, Any], path: str, depth: int) -> Branch | None:
        combinator = self.choice(item, "combinator", COMBINATORS, "AND", path)
        raw = item.get("rules")
        if not isinstance(raw, list) or not raw:
            self.fail(f"{path}.rules", "must be a non-empty list of rules")
            return None
        if depth > MAX_DEPTH:
            self.fail(f"{path}.rules", f"rules nested deeper than {MAX_DEPTH} levels")
            return None
        rules = []
        for index, rule in enumerate(raw):
            here = f"{path}.rules[{index}]"
            if not self.count(here):
                return None
            parsed = self.rule(rule, here, depth)
            if parsed is not None:
                rules.append(parsed)
        return Branch(combinator, tuple(rules)) if combinator and len(rules) == len(raw) else None

    def rule(self, rule: Any, path: str, depth: int) -> Leaf | Branch | None:
        if isinstance(rule, Mapping) and "field" in rule:
            self.unknown(rule, _LEAF_KEYS, path)
            return self.leaf(rule, path)
        if isinstance(rule, Mapping) and "rules" in rule:
            self.unknown(rule, _BRANCH_KEYS, path)
            return self.branch(rule, path, depth + 1)
        self.fail(path, "must be a leaf {field, operator, value} or a branch {combinator, rules}")
        return None

    def leaf(self, rule: Mapping[str, Any], path: str) -> Leaf | None:
        field = self.expression(rule.get("field"), f"{path}.field")
        operator = rule.get("operator")
        if operator not in COMPARISONS:
            self.fail(f"{path}.operator", f"must be one of {' '.join(COMPARISONS)}")
        raw = rule.get("value")
        value: Expression | float | None = None
        if isinstance(raw, str):
            value = self.expression(raw, f"{path}.value")
        elif isinstance(raw, (int, float)) and not isinstance(raw, bool) and math.isfinite(raw):
            value = float(raw)
        else:
            self.fail(f"{path}.value", "must be a finite number or an expression")
        if field is None or value is None or operator not in COMPARISONS:
            return None
        return Leaf(field, operator, value, path)

    def expression(self, text: Any, path: str) -> Expression | None:
        if not isinstance(text, str):
            self.fail(path, "required: an expression string" if text is None else "must be an expression string")
            return None
        try:
            parsed = parse_expression(text, path, expect=NUMBER)
        except ValidationError as exc:
            self.violations += exc.violations
            return None
        self.expressions.append((parsed, path))
        return parsed

    def choice(
        self, item: Mapping[str, Any], key: str, choices: tuple[str, ...], default: str, path: str
    ) -> str | None:
        value = item.get(key)
        if value is None:
            return default
        if value not in choices:
            self.fail(f"{path}.{key}", f"must be one of {', '.join(choices)}")
            return None
        return value

    def unknown(self, item: Mapping[str, Any], known: set[str], path: str) -> None:
        for key in item:
            if key not in known:
                self.fail(f"{path}.{key}", f"unknown field; expected: {', '.join(sorted(known))}")

    def count(self, path: str) -> bool:
        self.nodes += 1
        if self.nodes == MAX_RULE_NODES + 1:
            self.fail(path, f"the rule tree has more than {MAX_RULE_NODES} groups and rules")
        return self.nodes <= MAX_RULE_NODES
