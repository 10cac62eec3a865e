"""Settings from the environment, one frozen dataclass per service.

Only this module reads `os.environ`. `load_settings` reports every missing or
malformed variable at once, so a misconfigured process fails at startup with
the whole list instead of on its first request.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")
_NO_DEFAULT = object()


class SettingsError(Exception):
    """Raised at startup when variables are missing or malformed."""

    def __init__(self, service: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{service}: bad configuration: " + "; ".join(problems))


def setting(env: str, *, default: Any = _NO_DEFAULT, parse: Callable[[str], Any] = str, secret: bool = False) -> Any:
    """Declares one dataclass field read from the environment.

    env: name of the environment variable.
    default: value when the variable is unset; without one the variable is required.
    parse: turns the raw string into the field's value; a ValueError names the variable.
    secret: keeps the value out of the settings' repr, so logging settings cannot leak it.
    """
    meta = {"env": env, "parse": parse}
    if default is _NO_DEFAULT:
        return dataclasses.field(metadata=meta, repr=not secret)
    return dataclasses.field(default=default, metadata=meta, repr=not secret)


def parse_bool(raw: str) -> bool:
    """Reads the usual spellings of a boolean flag."""
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a boolean: {raw!r}")


def parse_listen(raw: str) -> str:
    """Accepts "host:port"; port 0 picks a free port."""
    host, sep, port = raw.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError("expected host:port")
    return raw


def parse_log_level(raw: str) -> str:
    """Accepts a standard logging level name."""
    if raw.upper() not in logging.getLevelNamesMapping():
        raise ValueError("not a logging level")
    return raw.upper()


def parse_positive(raw: str) -> float:
    """Accepts a positive number."""
    value = float(raw)
    if not value > 0:
        raise ValueError("must be positive")
    return value


def parse_non_negative(raw: str) -> float:
    """Accepts a finite number, 0 or more (0 usually means "off")."""
    value = float(raw)
    if not 0 <= value < float("inf"):
        raise ValueError("must be a finite number, 0 or more")
    return value


def load_settings(cls: type[T], environ: Mapping[str, str] | None = None) -> T:
    """Builds `cls` from the environment or raises SettingsError naming every problem.

    cls: a dataclass whose fields were declared with `setting`.
    environ: variables to read; the process environment when None.
    """
    source = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    problems: list[str] = []
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        name = field.metadata["env"]
        raw = source.get(name)
        if raw is None or raw == "":
            if field.default is dataclasses.MISSING:
                problems.append(f"{name} is not set")
            continue
        try:
            values[field.name] = field.metadata["parse"](raw)
        except ValueError as exc:
            problems.append(f"{name}={raw!r} is invalid: {exc}")
    if problems:
        raise SettingsError(cls.__name__, problems)
    return cls(**values)
