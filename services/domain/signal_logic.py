"""Signal logic as a resource: what a create or update may hold, and what a run on it must satisfy.

A signal logic is a rule tree (services.domain.expressions.rule_tree) with a
name, modes and a version. Requests are checked here, before any
transaction: the tree is parsed whole and every bad node named by its path.
A run names the logic by id; its `signal_plugin_params` are then the values
of the tree's `$params`, checked against the tree, and a long_short tree on
a run that does not allow shorts is refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from services.domain.commands import parse_id
from services.domain.errors import FieldViolation, ValidationError
from services.domain.expressions.rule_tree import RuleTree, check_position_mode, parse_rule_tree
from services.domain.run_config import ResolvedBacktest, RunConfig
from services.domain.signals import PLUGINS

MAX_NAME = 255  # the seed's limit
DEFAULT_OUTPUT_MODE = "discrete"
DEFAULT_POSITION_MODE = "long_short"  # the seed's default


@dataclass(frozen=True)
class LogicVersion:
    """What a signal logic is at one version: the part that decides a run's signal.

    logic_id: the logic. version: from 1. rule_tree: the groups as stored (JSON-like).
    output_mode, position_mode: as in the resource.
    """

    logic_id: str
    version: int
    rule_tree: list[Any]
    output_mode: str
    position_mode: str

    def parse(self, field: str = "rule_tree") -> RuleTree:
        """The validated tree (a stored version always parses; a job's copy is checked again)."""
        return parse_rule_tree(
            self.rule_tree, position_mode=self.position_mode, output_mode=self.output_mode, field=field
        )

    def to_job(self) -> dict[str, Any]:
        """The version as a job carries it."""
        return {
            "id": self.logic_id,
            "version": self.version,
            "rule_tree": self.rule_tree,
            "output_mode": self.output_mode,
            "position_mode": self.position_mode,
        }

    @classmethod
    def from_job(cls, raw: Mapping[str, Any]) -> LogicVersion:
        """The version a job carries (`to_job`'s output)."""
        return cls(raw["id"], int(raw["version"]), list(raw["rule_tree"]), raw["output_mode"], raw["position_mode"])


@dataclass(frozen=True)
class NewSignalLogic:
    """A signal logic to create, checked whole."""

    name: str
    description: str | None
    rule_tree: list[Any]
    output_mode: str
    position_mode: str
    strategy_id: uuid.UUID | None

    @classmethod
    def of(cls, fields: Mapping[str, Any]) -> NewSignalLogic:
        """Checks name, modes, strategy id and the whole rule tree; one ValidationError names every problem.

        fields: the create request's present fields (absent optional fields are absent keys).
        """
        violations: list[FieldViolation] = []
        name = _name(fields.get("name"), violations, required=True)
        strategy_id = _strategy(fields, violations)
        if "rule_tree" not in fields:
            violations.append(FieldViolation("rule_tree", "required: a list of rule groups"))
        output_mode = fields.get("output_mode", DEFAULT_OUTPUT_MODE)
        position_mode = fields.get("position_mode", DEFAULT_POSITION_MODE)
        if "rule_tree" in fields:
            violations += _tree_violations(fields["rule_tree"], output_mode, position_mode)
        if violations:
            raise ValidationError(violations)
        return cls(name, fields.get("description"), list(fields["rule_tree"]), output_mode, position_mode, strategy_id)


@dataclass(frozen=True)
class SignalLogicPatch:
    """The fields an update changes, checked as they will be together with the fields it keeps."""

    changes: dict[str, Any]

    @classmethod
    def of(cls, fields: Mapping[str, Any], current: LogicVersion) -> SignalLogicPatch:
        """Checks the present fields; the tree and modes are checked as the new version will have them.

        fields: the update request's present fields. current: the logic's version now.
        """
        violations: list[FieldViolation] = []
        changes: dict[str, Any] = {}
        if "name" in fields:
            changes["name"] = _name(fields["name"], violations, required=True)
        if "description" in fields:
            changes["description"] = fields["description"]
        if "strategy_id" in fields:
            changes["strategy_id"] = _strategy(fields, violations)
        for name in ("rule_tree", "output_mode", "position_mode"):
            if name in fields:
                changes[name] = fields[name]
        merged = replace(
            current, **{k: v for k, v in changes.items() if k in ("rule_tree", "output_mode", "position_mode")}
        )
        if any(name in changes for name in ("rule_tree", "output_mode", "position_mode")):
            violations += _tree_violations(merged.rule_tree, merged.output_mode, merged.position_mode)
        if violations:
            raise ValidationError(violations)
        return cls(changes)


def bind_run(run: ResolvedBacktest, logic: LogicVersion) -> ResolvedBacktest:
    """The run with its $param values checked against the logic's tree and its version recorded.

    Raises ValidationError naming `config.signal_plugin_params...` for bad, unused or missing
    $params, and `config.signal_logic_id` for a long_short tree on a run without shorts.
    """
    tree = logic.parse()
    violations: list[FieldViolation] = []
    try:
        check_position_mode(tree.position_mode, run.config.allow_short, field="config.signal_logic_id")
    except ValidationError as err:
        violations += err.violations
    given = {name for name, value in run.config.signal_plugin_params.items() if value is not None}
    for name in sorted(set(tree.params) - given):
        where = next(path for expression, path in tree.expressions if name in expression.params)
        violations.append(
            FieldViolation(f"config.signal_plugin_params.{name}", f"required: the signal logic uses ${name} at {where}")
        )
    params = {}
    if not violations:
        try:
            params = tree.check_params(run.config.signal_plugin_params, "config.signal_plugin_params")
        except ValidationError as err:
            violations += err.violations
    if violations:
        raise ValidationError(violations)
    config = replace(run.config, signal_plugin_params=params, signal_logic_version=logic.version)
    return replace(run, config=config)


def series_read_by(config: RunConfig, logic: LogicVersion | None) -> list[str]:
    """Names of the model-output series a run reads: its logic's (`logic`, the version it uses) or its plugin's."""
    if config.signal_logic_id is not None:
        return logic.parse().series if logic is not None else []
    plugin = PLUGINS.get(config.signal_plugin_key)  # a package's plugin reads no series
    return plugin.series_names(config.signal_plugin_params) if plugin is not None else []


def _name(raw: Any, violations: list[FieldViolation], *, required: bool) -> str:
    if not isinstance(raw, str) or not raw.strip():
        if required:
            violations.append(FieldViolation("name", "required"))
        return ""
    if len(raw) > MAX_NAME:
        violations.append(FieldViolation("name", f"at most {MAX_NAME} characters"))
    return raw


def _strategy(fields: Mapping[str, Any], violations: list[FieldViolation]) -> uuid.UUID | None:
    raw = fields.get("strategy_id")
    if raw in (None, ""):
        return None
    try:
        return parse_id("strategy_id", raw)
    except ValidationError as err:
        violations += err.violations
        return None


def _tree_violations(rule_tree: Any, output_mode: Any, position_mode: Any) -> list[FieldViolation]:
    try:
        parse_rule_tree(rule_tree, position_mode=position_mode, output_mode=output_mode)
    except ValidationError as err:
        return err.violations
    return []
