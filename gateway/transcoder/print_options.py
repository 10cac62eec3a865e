"""The transcoder's print options, read from gateway/print_options.json.

envoy.yaml carries the same four options (a deploy test compares them with
this file), so Envoy and the local gateway print JSON alike.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from gateway.transcoder.errors import ConfigError

DEFAULT_PATH = str(Path(__file__).resolve().parents[1] / "print_options.json")


@dataclasses.dataclass(frozen=True)
class PrintOptions:
    """Envoy's `print_options`.

    preserve_proto_field_names: keys are proto names (snake_case), not JSON names.
    always_print_primitive_fields: print fields without presence even when zero or empty.
    always_print_enums_as_ints: enums as numbers instead of names.
    add_whitespace: pretty-print; the local gateway does not implement it.
    """

    preserve_proto_field_names: bool = False
    always_print_primitive_fields: bool = False
    always_print_enums_as_ints: bool = False
    add_whitespace: bool = False


def load_print_options(path: str = DEFAULT_PATH) -> PrintOptions:
    """Reads the options file; unknown keys, non-booleans and add_whitespace are ConfigErrors."""
    try:
        with open(path, encoding="utf-8") as handle:
            raw = json.load(handle)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read print options {path}: {exc}") from exc
    known = {field.name for field in dataclasses.fields(PrintOptions)}
    if not isinstance(raw, dict) or set(raw) - known or not all(isinstance(v, bool) for v in raw.values()):
        raise ConfigError(f"{path}: expected an object of booleans among {sorted(known)}")
    options = PrintOptions(**raw)
    if options.add_whitespace:
        raise ConfigError(f"{path}: add_whitespace is not supported by the local transcoder")
    return options
