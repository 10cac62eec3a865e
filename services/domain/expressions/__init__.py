"""The signal expression language and rule trees: parse, check, evaluate (docs/strategies.md).

Pure functions over bars; the expression plugin (services.domain.signals.expression)
and signal-logic rule trees (rule_tree) are built on it.
"""

from __future__ import annotations

# The language reuses the plugins' indicators (moving_average, wilder_rsi) and the plugin
# registry includes the expression plugin built on the language: loading the registry
# first makes every import order resolve the same way.
import services.domain.signals  # noqa: F401, I001
