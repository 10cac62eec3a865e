"""The language described as data, for discovery (GET /api/v1/signal-plugins) and the docs."""

from __future__ import annotations

from typing import Any

from services.domain.expressions.functions import ARG_KINDS, BAR_NAMES, FUNCTIONS
from services.domain.expressions.limits import MAX_DEPTH, MAX_RULE_NODES, MAX_TEXT_BYTES, MAX_WINDOW
from services.domain.expressions.parser import ARITHMETIC, COMPARISONS


def describe_language() -> dict[str, Any]:
    """Names, operators, functions (name, arity, signature, argument kinds, result, one line) and limits."""
    return {
        "names": list(BAR_NAMES),
        "parameters": "$name: a number from signal_plugin_params",
        "operators": {
            "arithmetic": [*ARITHMETIC, "unary -"],
            "comparison": list(COMPARISONS),
            "logical": ["and", "or", "not"],
        },
        "functions": [
            {
                "name": f.name,
                "arity": len(f.args),
                "signature": f.signature,
                "arguments": [{"name": name, "kind": ARG_KINDS[kind]} for name, kind in f.args],
                "returns": "the type of its a/b (or x) arguments" if f.result == "same" else f"a {f.result}",
                "description": f.description,
            }
            for f in FUNCTIONS.values()
        ],
        "limits": {
            "max_text_bytes": MAX_TEXT_BYTES,
            "max_depth": MAX_DEPTH,
            "max_window": MAX_WINDOW,
            "max_rule_nodes": MAX_RULE_NODES,
        },
    }
