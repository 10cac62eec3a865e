"""Validated, typed commands built from the plain request dicts that `convert` produces.

Everything a request can get wrong outside the run config (ids, paging,
strategy fields, PATCH fields) is checked here, before any transaction
starts, so a bad request never touches the database.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from services.domain.errors import FieldViolation, ValidationError
from services.domain.object_uris import parse_artifact_uri
from services.domain.statuses import RunStatus, values
from services.domain.uuids import parse_uuid

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
_ARTIFACT_FIELDS = ("trades_uri", "equity_curve_uri")


def parse_id(field_name: str, raw: Any) -> uuid.UUID:
    """Reads a UUID or raises a ValidationError naming the field.

    field_name: name of the field in the request, e.g. "backtest_id".
    raw: the value as received (string or UUID).
    """
    if raw is None or raw == "":
        raise ValidationError.single(field_name, "required")
    try:
        return parse_uuid(raw)
    except (TypeError, ValueError, AttributeError):
        raise ValidationError.single(field_name, "must be a UUID") from None


@dataclass(frozen=True)
class Page:
    """Offset pagination: `skip` rows, then at most `limit`."""

    skip: int = 0
    limit: int = DEFAULT_LIMIT

    @classmethod
    def of(cls, fields: Mapping[str, Any]) -> Page:
        """Reads `skip` (>= 0, default 0) and `limit` (1..1000, default 100) from a request dict."""
        skip, limit = fields.get("skip", 0), fields.get("limit", DEFAULT_LIMIT)
        violations = []
        if skip < 0:
            violations.append(FieldViolation("skip", "must be >= 0"))
        if not 1 <= limit <= MAX_LIMIT:
            violations.append(FieldViolation("limit", f"must be between 1 and {MAX_LIMIT}"))
        if violations:
            raise ValidationError(violations)
        return cls(skip=skip, limit=limit)


@dataclass(frozen=True)
class BacktestQuery:
    """Which backtests to list: one strategy's or all, one page of them."""

    strategy_id: uuid.UUID | None
    page: Page

    @classmethod
    def of(cls, fields: Mapping[str, Any]) -> BacktestQuery:
        """Reads an optional `strategy_id` filter and the page."""
        raw = fields.get("strategy_id")
        strategy_id = None if raw is None else parse_id("strategy_id", raw)
        return cls(strategy_id=strategy_id, page=Page.of(fields))


@dataclass(frozen=True)
class NewStrategy:
    """A strategy to create."""

    name: str
    description: str | None = None
    universe: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, fields: Mapping[str, Any]) -> NewStrategy:
        """Checks that the name is given and every universe symbol is a non-blank string."""
        name = fields.get("name") or ""
        universe = list(fields.get("universe", []))
        violations = [] if name.strip() else [FieldViolation("name", "required")]
        violations += [
            FieldViolation(f"universe[{i}]", "must be a non-empty symbol")
            for i, symbol in enumerate(universe)
            if not isinstance(symbol, str) or not symbol.strip()
        ]
        if violations:
            raise ValidationError(violations)
        params = dict(fields.get("params", {}))
        return cls(name=name, description=fields.get("description"), universe=universe, params=params)


@dataclass(frozen=True)
class BacktestPatch:
    """The columns a PATCH changes; absent fields stay as they are."""

    changes: dict[str, Any]

    @classmethod
    def of(cls, fields: Mapping[str, Any], *, bucket: str) -> BacktestPatch:
        """Checks status, metrics and artifact URIs.

        fields: the present fields among status, metrics, trades_uri, equity_curve_uri.
        bucket: the platform's bucket; artifact URIs must name artifacts in it (services.domain.object_uris).
        """
        violations = []
        if "status" in fields and fields["status"] not in values(RunStatus):
            violations.append(FieldViolation("status", "must be one of " + ", ".join(values(RunStatus))))
        if "metrics" in fields and not isinstance(fields["metrics"], Mapping):
            violations.append(FieldViolation("metrics", "must be an object"))
        for name in _ARTIFACT_FIELDS:
            if name in fields:
                try:
                    parse_artifact_uri(fields[name], bucket, field=name)
                except ValidationError as err:
                    violations += err.violations
        if violations:
            raise ValidationError(violations)
        known = ("status", "metrics", *_ARTIFACT_FIELDS)
        return cls(changes={name: fields[name] for name in known if name in fields})
