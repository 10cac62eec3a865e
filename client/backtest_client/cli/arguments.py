"""Parsing what commands take beyond plain options: `name=value` parameters, `key=v1,v2` grids, YAML/JSON files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
import yaml

# A base file may say these besides the config; they are not config fields.
SWEEP_FIELDS = ("engine", "strategy_id", "rank_metric")
LIFTED = ("initial_capital", "commission", "slippage")
# What a signal logic file may say.
LOGIC_FIELDS = ("name", "rule_tree", "output_mode", "position_mode", "description", "strategy_id")


def value(text: str) -> Any:
    """A command-line value: JSON when it parses (10, 0.5, true, null, [1,2]), else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def assignments(pairs: list[str], option: str) -> dict[str, Any]:
    """`name=value` pairs as a dict; a pair without `=` is a usage error naming `option`.

    pairs: the option's values, e.g. ["fast_period=10", "ma_type=ema"].
    option: the option's name, for the error.
    """
    found: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name.strip():
            raise typer.BadParameter(f"{pair!r} is not name=value", param_hint=option)
        found[name.strip()] = value(raw.strip())
    return found


def grid(specs: list[str]) -> dict[str, list[Any]]:
    """`--grid 'key=v1,v2,v3'` options as {key: [values]} (their cartesian product is the sweep).

    specs: the option's values; each names one key and at least one value.
    """
    axes: dict[str, list[Any]] = {}
    for spec in specs:
        key, sep, raw = spec.partition("=")
        values = [value(v.strip()) for v in raw.split(",") if v.strip()]
        if not sep or not key.strip() or not values:
            raise typer.BadParameter(f"{spec!r} is not key=value1,value2,...", param_hint="--grid")
        if key.strip() in axes:
            raise typer.BadParameter(f"{key.strip()!r} is given twice", param_hint="--grid")
        axes[key.strip()] = values
    return axes


def sweep_base(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(base_config, sweep fields) from a YAML file.

    The file is either a run config (symbol, timeframe, start_date, ...,
    optionally initial_capital, commission, slippage), or a create-backtest
    body with the config under `config:`; either may also name engine,
    strategy_id and rank_metric.
    """
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise typer.BadParameter(f"cannot read {path}: {err}", param_hint="--base") from None
    if not isinstance(document, dict):
        raise typer.BadParameter(f"{path} must hold a mapping of config fields", param_hint="--base")
    fields = {k: document.pop(k) for k in SWEEP_FIELDS if k in document}
    if isinstance(document.get("config"), dict):
        base = dict(document.pop("config"))
        base.update({k: document.pop(k) for k in LIFTED if k in document})
    else:
        base = document
    # YAML reads bare dates as date objects; the API takes text.
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in base.items()}, fields


def logic_document(path: Path, param_hint: str = "FILE") -> dict[str, Any]:
    """The signal logic fields of a JSON or YAML file (JSON when it ends in .json, YAML otherwise).

    The file holds a mapping of LOGIC_FIELDS (name, rule_tree, output_mode,
    position_mode, description, strategy_id), or a bare list: the rule tree
    alone. Anything else, or an unknown field, is a usage error naming the file.
    path: the file. param_hint: how the command names it, for errors.
    """
    try:
        text = path.read_text()
        document = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as err:
        raise typer.BadParameter(f"cannot read {path}: {err}", param_hint=param_hint) from None
    if isinstance(document, list):
        return {"rule_tree": document}
    if not isinstance(document, dict):
        raise typer.BadParameter(
            f"{path} must hold a mapping of signal logic fields or a rule tree (a list)", param_hint=param_hint
        )
    unknown = sorted(set(map(str, document)) - set(LOGIC_FIELDS))
    if unknown:
        raise typer.BadParameter(
            f"{path}: unknown field(s) {', '.join(unknown)}; a signal logic has {', '.join(LOGIC_FIELDS)}",
            param_hint=param_hint,
        )
    return document
