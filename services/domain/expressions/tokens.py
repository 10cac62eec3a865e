"""The tokenizer: expression text to a list of tokens, or an ExpressionProblem at the first bad character."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from services.domain.expressions.diagnostics import ExpressionProblem

KEYWORDS = ("and", "or", "not")
OPERATORS = ("<=", ">=", "==", "!=", "<", ">", "+", "-", "*", "/", "(", ")", ",")

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<param>\$[A-Za-z_][A-Za-z0-9_]*)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<string>"[^"\\\n]*"|'[^'\\\n]*')
  | (?P<op><=|>=|==|!=|[<>+\-*/(),])
    """,
    re.VERBOSE,
)
# Why a character is refused, for the ones people try first.
_REFUSED = {
    ".": "attribute access is not part of the language",
    "[": "indexing and lists are not part of the language",
    "]": "indexing and lists are not part of the language",
    "{": "dicts and sets are not part of the language",
    "}": "dicts and sets are not part of the language",
    ":": "lambdas, slices and annotations are not part of the language",
    "=": "assignment is not part of the language; compare with ==",
    "!": "use `not` for negation",
    "&": "use `and`",
    "|": "use `or`",
    "%": "the modulo operator is not part of the language",
    "^": "the power operator is not part of the language",
    "$": "a parameter is $ followed by a name, e.g. $fast",
    '"': "an unterminated string",
    "'": "an unterminated string",
    "\\": "backslashes are not part of the language",
}


@dataclass(frozen=True)
class Token:
    """kind: number, param, name, keyword, string, op or end; text: as written; offset: 0-based position."""

    kind: str
    text: str
    offset: int

    @property
    def number(self) -> float:
        """The value of a number token."""
        return float(self.text)


def tokenize(text: str) -> list[Token]:
    """The tokens of `text`, ending with an `end` token.

    Raises ExpressionProblem at the first character no token starts with.
    """
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            char = text[position]
            reason = _REFUSED.get(char, "not part of the language")
            raise ExpressionProblem(position, "syntax", f"unexpected character {char!r}: {reason}")
        kind = match.lastgroup or ""
        value = match.group()
        if kind == "name" and value in KEYWORDS:
            kind = "keyword"
        if kind == "number" and not math.isfinite(float(value)):
            raise ExpressionProblem(position, "syntax", f"number {value[:20]} is too large; expected a finite number")
        if kind != "space":
            tokens.append(Token(kind, value, position))
        position = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens
