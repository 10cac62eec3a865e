"""Validation errors that point into an expression's text."""

from __future__ import annotations

from dataclasses import dataclass

from services.domain.errors import FieldViolation, ValidationError

_EXCERPT_SIDE = 30  # characters shown either side of the offending position


@dataclass(frozen=True)
class ExpressionViolation(FieldViolation):
    """A FieldViolation inside an expression.

    `offset` is the 0-based character position in the field's text; `problem` the kind ("syntax", "unknown name",
    "arity", "missing param", "type", "limit", "window").
    """

    offset: int = 0
    problem: str = "syntax"


class ExpressionProblem(Exception):
    """Raised inside the parser and evaluator; `at` turns it into a violation of a named field."""

    def __init__(self, offset: int, problem: str, message: str) -> None:
        super().__init__(message)
        self.offset = offset
        self.problem = problem
        self.message = message

    def at(self, field: str, text: str) -> ExpressionViolation:
        """This problem as a violation of `field`, whose value is `text`."""
        return ExpressionViolation(field, describe(text, self.offset, self.message), self.offset, self.problem)

    def error(self, field: str, text: str) -> ValidationError:
        """This problem as a ValidationError naming `field`."""
        return ValidationError([self.at(field, text)])


def describe(text: str, offset: int, message: str) -> str:
    """`message` with the offset and a caret under it, on an excerpt of the line of `text` that holds it."""
    line_start = text.rfind("\n", 0, offset) + 1
    line_end = text.find("\n", offset)
    line_end = len(text) if line_end < 0 else line_end
    start = max(line_start, offset - _EXCERPT_SIDE)
    end = min(line_end, offset + _EXCERPT_SIDE)
    before = ("..." if start > line_start else "") + text[start:offset]
    excerpt = before + text[offset:end] + ("..." if end < line_end else "")
    return f"{message} (at offset {offset})\n  {excerpt}\n  {' ' * len(before)}^"
