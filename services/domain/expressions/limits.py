"""The bounds that keep a user's expression or rule tree cheap to parse and evaluate."""

from __future__ import annotations

from services.domain.signals.crossover import MAX_PERIOD

MAX_TEXT_BYTES = 4096  # one expression's text, UTF-8
MAX_DEPTH = 32  # nested parentheses, calls, unary minus and `not` in one expression; nested branches in a rule tree
MAX_WINDOW = MAX_PERIOD  # a window argument, as for the built-in plugins' periods
MAX_RULE_NODES = 1000  # groups, branches and leaves of one rule tree together
