"""A signal plugin known only by what an executor advertises: its key, description and parameters' JSON Schema.

Plugins that installed packages provide run on the executors that have the
package; the catalog never imports their code. It learns them from the
executors' registry entries and checks a run's parameters against the
advertised schema here, naming each bad field as a built-in plugin would.
What the schema leaves open (cross-parameter rules, say) the plugin's own
validation checks when the run starts, failing the run with its message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsonschema
import numpy as np
import pandas as pd
from typing_extensions import override

from services.domain.errors import FieldViolation, ValidationError
from services.domain.signals.schema import SignalContext, SignalPlugin, field_path


class AdvertisedPlugin(SignalPlugin):
    """Validates parameters by an advertised JSON Schema; computing belongs to the executors.

    description: the advertised plugin as discovery shows it ({key, description, parameters, source}).
    """

    def __init__(self, description: Mapping[str, Any]) -> None:
        self.key = description["key"]  # type: ignore[misc]  # one instance per advertised key
        self.description = dict(description)
        self._validator = jsonschema.Draft202012Validator(description.get("parameters") or {"type": "object"})

    @override
    def validate(self, params: Mapping[str, Any] | None, field_prefix: str) -> dict[str, Any]:
        params = {} if params is None else params
        if not isinstance(params, Mapping):
            raise ValidationError.single(field_prefix, "must be an object")
        violations = [
            FieldViolation(field_path(field_prefix, ".".join(str(p) for p in error.absolute_path)), error.message)
            for error in sorted(self._validator.iter_errors(dict(params)), key=lambda e: list(map(str, e.path)))
        ]
        if violations:
            raise ValidationError(violations)
        return dict(params)

    @override
    def compute_many(
        self, bars: pd.DataFrame, params_list, *, context: SignalContext | None = None
    ) -> list[np.ndarray]:
        raise RuntimeError(f"plugin {self.key!r} runs on executors that have its package, not here")


def advertised_plugins(descriptions: list[Mapping[str, Any]]) -> dict[str, AdvertisedPlugin]:
    """Validators of advertised plugins by key (the first description of a key wins)."""
    found: dict[str, AdvertisedPlugin] = {}
    for description in descriptions:
        found.setdefault(description["key"], AdvertisedPlugin(description))
    return found
