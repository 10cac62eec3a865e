"""Turn a create-backtest request into a fully resolved, valid backtest.

Every default of the API lives here, and every violation of a request is
collected before one ValidationError names them all by dotted path, so a
client fixes its request in one round trip.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from services.domain.dates import parse_date
from services.domain.engines import DEFAULT_ENGINE, descriptor
from services.domain.errors import FieldViolation, ValidationError
from services.domain.execution import FILL_PRICES, SIZE_TYPES, ExecutionSpec
from services.domain.signals import PLUGINS
from services.domain.signals.schema import Param, SignalPlugin, check_params
from services.domain.symbols import check_symbol
from services.domain.timeframes import check_timeframe, default_bars_per_year
from services.domain.uuids import parse_uuid

# Seed fields that need model infrastructure this platform does not have.
UNSUPPORTED = ("model_id", "feature_ids")


@dataclass(frozen=True)
class RunConfig:
    """The execution configuration with every default resolved.

    Dates stay the user's strings (validated); `start` and `end` parse them.
    The signal is a plugin (`signal_plugin_key`) or a signal logic
    (`signal_logic_id`), never both. signal_plugin_params holds the plugin's
    parameters with defaults filled, or the values of the logic's $params
    (checked against its rule tree by the catalog, which knows the tree).
    signal_logic_version is the version a run used, set when it is claimed.
    """

    symbol: str
    timeframe: str
    start_date: str
    end_date: str
    signal_plugin_key: str | None
    signal_plugin_params: dict[str, Any]
    bars_per_year: int
    risk_free_rate: float
    size_type: str
    fill_price: str
    allow_short: bool
    size: float
    signal_logic_id: str | None = None
    signal_logic_version: int | None = None

    def __post_init__(self) -> None:
        # Our own copy, so the caller's dict cannot change the config afterwards. A
        # plain dict rather than a read-only proxy: configs must pickle and deepcopy.
        object.__setattr__(self, "signal_plugin_params", dict(self.signal_plugin_params))

    @property
    def start(self) -> pd.Timestamp:
        """First bar included, tz-naive UTC."""
        return parse_date(self.start_date)

    @property
    def end(self) -> pd.Timestamp:
        """Last bar included, tz-naive UTC."""
        return parse_date(self.end_date)

    @property
    def signal_source(self) -> tuple[str, str | None]:
        """What computes the signal: ("plugin", key) or ("logic", id); runs with equal sources can share work."""
        if self.signal_logic_id is not None:
            return ("logic", self.signal_logic_id)
        return ("plugin", self.signal_plugin_key)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able config as stored and returned: resolved values, no unsupported fields.

        The signal's unused half (a plugin key, or a logic id and version) is left out, not null.
        """
        fields = {name: getattr(self, name) for name in self.__dataclass_fields__}
        fields["signal_plugin_params"] = dict(self.signal_plugin_params)
        for name in ("signal_plugin_key", "signal_logic_id", "signal_logic_version"):
            if fields[name] is None:
                del fields[name]
        return fields


@dataclass(frozen=True)
class ResolvedBacktest:
    """A valid create request with every default filled."""

    strategy_id: str
    engine: str
    initial_capital: float
    commission: float
    slippage: float
    config: RunConfig

    def to_dict(self) -> dict[str, Any]:
        """Create-request fields; resolve_backtest(r.to_dict()) == r."""
        fields = {name: getattr(self, name) for name in self.__dataclass_fields__}
        fields["config"] = self.config.to_dict()
        return fields

    def execution_spec(self) -> ExecutionSpec:
        """What the engines need to size and fill orders."""
        c = self.config
        return ExecutionSpec(
            initial_capital=self.initial_capital,
            commission=self.commission,
            slippage=self.slippage,
            size_type=c.size_type,
            size=c.size,
            fill_price=c.fill_price,
            allow_short=c.allow_short,
        )


# The fields that define a run: the backtest columns a job carries and an
# executor resolves again. The catalog derives its statements from this.
RUN_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(ResolvedBacktest))

_BACKTEST = (
    Param("engine", str, DEFAULT_ENGINE),
    Param("initial_capital", float, 100_000.0, gt=0),
    Param("commission", float, 0.0005, ge=0, le=0.1),
    Param("slippage", float, 0.0005, ge=0, le=0.1),
)
_CONFIG = (
    Param("bars_per_year", int, None, gt=0, le=10_000_000),  # default from the timeframe
    Param("risk_free_rate", float, 0.0, gt=-1, le=1),
    Param("size_type", str, "percent", choices=SIZE_TYPES),
    Param("fill_price", str, "close", choices=FILL_PRICES),
    Param("allow_short", bool, False),
    Param("size", float, None, gt=0),  # default depends on size_type
)
_REQUIRED = ("symbol", "timeframe", "start_date", "end_date")
_SIGNAL_KEYS = ("signal_plugin_key", "signal_plugin_params", "signal_logic_id", "signal_logic_version")
_BACKTEST_KEYS = {"strategy_id", "config", *(p.name for p in _BACKTEST)}
_CONFIG_KEYS = {*_REQUIRED, *_SIGNAL_KEYS, *UNSUPPORTED, *(p.name for p in _CONFIG)}


def resolve_backtest(fields: Mapping[str, Any], *, plugins: Mapping[str, SignalPlugin] = PLUGINS) -> ResolvedBacktest:
    """Validate the fields of a create request and fill every default.

    fields: JSON-like dict of a CreateBacktestRequest; an absent or null key means "not given".
    plugins: the signal plugins a run may name, by key: the built-in ones, plus (where the caller
        knows them) those installed packages provide.
    Raises ValidationError listing every violation.
    """
    values, violations = check_params(_BACKTEST, fields, "", strict=False)
    violations += [FieldViolation(k, "unknown field") for k in fields if k not in _BACKTEST_KEYS]
    if "engine" in values:
        try:
            descriptor(values["engine"])
        except ValidationError as err:
            violations += err.violations
    strategy_id = fields.get("strategy_id")
    try:
        strategy_id = str(parse_uuid(strategy_id))
    except (TypeError, ValueError, AttributeError):
        violations.append(FieldViolation("strategy_id", "required" if strategy_id in (None, "") else "must be a UUID"))
    raw_config = fields.get("config")
    config: dict[str, Any] = {}
    if raw_config is None:
        violations.append(FieldViolation("config", "required"))
    elif not isinstance(raw_config, Mapping):
        violations.append(FieldViolation("config", "must be an object"))
    else:
        config = _resolve_config(raw_config, violations, plugins)
    if violations:
        raise ValidationError(violations)
    return ResolvedBacktest(strategy_id=strategy_id, config=RunConfig(**config), **values)


def _resolve_config(
    config: Mapping[str, Any], violations: list[FieldViolation], plugins: Mapping[str, SignalPlugin]
) -> dict[str, Any]:
    values, found = check_params(_CONFIG, config, "config", strict=False)
    violations += found
    violations += [FieldViolation(f"config.{k}", "unknown field") for k in config if k not in _CONFIG_KEYS]
    violations += [
        FieldViolation(f"config.{k}", "not supported by this platform; use signal_plugin_key or signal_logic_id")
        for k in UNSUPPORTED
        if config.get(k) not in (None, "", [], ())
    ]
    for name in _REQUIRED:
        value = config.get(name)
        if value is None or value == "":
            violations.append(FieldViolation(f"config.{name}", "required"))
        elif not isinstance(value, str):
            violations.append(FieldViolation(f"config.{name}", "must be a string"))
        else:
            values[name] = value
    for name, check in (("symbol", check_symbol), ("timeframe", check_timeframe)):
        if name in values:
            try:
                check(values[name], f"config.{name}")
            except ValidationError as err:
                violations += err.violations
                del values[name]
    timeframe = values.get("timeframe")
    if timeframe is not None and "bars_per_year" not in values and not _given(config, "bars_per_year"):
        values["bars_per_year"] = default_bars_per_year(timeframe)
    _check_dates(values, violations)
    _check_size(config, values, violations)
    _check_signal(config, values, violations, plugins)
    return values


def _given(config: Mapping[str, Any], name: str) -> bool:
    return config.get(name) is not None


def _check_dates(values: dict[str, Any], violations: list[FieldViolation]) -> None:
    parsed = {}
    for name in ("start_date", "end_date"):
        if name in values:
            try:
                parsed[name] = parse_date(values[name])
            except ValueError as exc:
                violations.append(FieldViolation(f"config.{name}", str(exc)))
    if len(parsed) == 2 and parsed["start_date"] >= parsed["end_date"]:
        violations.append(FieldViolation("config.end_date", "must be after start_date"))


def _check_size(config: Mapping[str, Any], values: dict[str, Any], violations: list[FieldViolation]) -> None:
    size_type = values.get("size_type")
    if not _given(config, "size"):
        if size_type == "shares":
            violations.append(FieldViolation("config.size", "required when size_type is 'shares'"))
        else:
            values["size"] = 1.0
    elif size_type != "shares" and values.get("size", 0.0) > 1.0:
        # A fraction of equity above 1 is leverage, which the engines do not model.
        violations.append(
            FieldViolation("config.size", "must be <= 1 (a fraction of equity) unless size_type is 'shares'")
        )


def _check_signal(
    config: Mapping[str, Any],
    values: dict[str, Any],
    violations: list[FieldViolation],
    plugins: Mapping[str, SignalPlugin],
) -> None:
    """The signal: a plugin key or a signal logic id, exactly one; the plugin's params by its schema."""
    key, logic = config.get("signal_plugin_key"), config.get("signal_logic_id")
    if key in (None, "") and logic in (None, ""):
        violations.append(FieldViolation("config.signal_plugin_key", "required (or config.signal_logic_id)"))
        return
    if key not in (None, "") and logic not in (None, ""):
        violations.append(
            FieldViolation("config.signal_logic_id", "give signal_plugin_key or signal_logic_id, not both")
        )
        return
    if logic not in (None, ""):
        values["signal_plugin_key"] = None
        _check_logic(config, values, violations)
        return
    if config.get("signal_logic_version") is not None:
        # It pins a signal logic's version; beside a plugin key it would be stored and never checked.
        violations.append(FieldViolation("config.signal_logic_version", "only with signal_logic_id"))
    if not isinstance(key, str):
        violations.append(FieldViolation("config.signal_plugin_key", "must be a string"))
        return
    values["signal_plugin_key"] = key
    _check_plugin(config, values, violations, plugins)


def _check_logic(config: Mapping[str, Any], values: dict[str, Any], violations: list[FieldViolation]) -> None:
    try:
        values["signal_logic_id"] = str(parse_uuid(config["signal_logic_id"]))
    except (TypeError, ValueError, AttributeError):
        violations.append(FieldViolation("config.signal_logic_id", "must be a UUID"))
    version = config.get("signal_logic_version")
    if version is not None:
        if isinstance(version, bool) or not isinstance(version, (int, float)) or version != int(version) or version < 1:
            violations.append(FieldViolation("config.signal_logic_version", "must be a version number, 1 or more"))
        else:
            values["signal_logic_version"] = int(version)
    params = config.get("signal_plugin_params")
    if params is None:
        values["signal_plugin_params"] = {}
    elif not isinstance(params, Mapping):
        violations.append(FieldViolation("config.signal_plugin_params", "must be an object"))
    else:
        values["signal_plugin_params"] = dict(params)


def _check_plugin(
    config: Mapping[str, Any],
    values: dict[str, Any],
    violations: list[FieldViolation],
    plugins: Mapping[str, SignalPlugin],
) -> None:
    params = config.get("signal_plugin_params")
    key = values.get("signal_plugin_key")
    if key is not None and key not in plugins:
        violations.append(FieldViolation("config.signal_plugin_key", "unknown plugin; known: " + ", ".join(plugins)))
    elif key is not None:
        try:
            values["signal_plugin_params"] = plugins[key].validate(params, "config.signal_plugin_params")
        except ValidationError as exc:
            violations += exc.violations
        return
    if params is not None and not isinstance(params, Mapping):
        violations.append(FieldViolation("config.signal_plugin_params", "must be an object"))
