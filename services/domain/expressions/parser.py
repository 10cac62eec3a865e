"""The parser: expression text to a typed syntax tree, by recursive descent over the tokens.

Nothing here executes or imports anything named in the text: a name is
one of the bar names or functions of `functions`, or an error. Every node
is typed as it is built (number, condition), so a type error points at the
operand that has the wrong type. Nesting is counted as it is entered and
refused past MAX_DEPTH, so the recursion stays shallow whatever the input;
long flat chains (a + b + c ...) are parsed by loops, and every later pass
walks the nodes in `Expression.order` without recursion.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from services.domain.errors import ValidationError
from services.domain.expressions.diagnostics import ExpressionProblem
from services.domain.expressions.functions import (
    ARG_KINDS,
    BAR_NAMES,
    CONDITION,
    FUNCTIONS,
    NUMBER,
    STRING,
    Function,
)
from services.domain.expressions.limits import MAX_DEPTH, MAX_TEXT_BYTES
from services.domain.expressions.tokens import Token, tokenize

SERIES_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
ARITHMETIC = ("+", "-", "*", "/")
COMPARISONS = ("<", "<=", ">", ">=", "==", "!=")
_OPERAND = "a number, a bar name (open, high, low, close, volume), a $param, a function call or ("
_OPERATOR = "an operator (+ - * / < <= > >= == != and or)"


@dataclass(frozen=True, eq=False)
class Node:
    """One node of a syntax tree.

    kind: "number", "param", "bar", "string", "call" or "operator".
    op: the function name of a call, the operator of an operator node
        ("+", "-", "*", "/", "neg", a comparison, "and", "or", "not"), else the kind.
    args: operands or call arguments.
    value: the number, the parameter or bar name, or the string's content.
    type: NUMBER, CONDITION or STRING.
    constant: the value is the same on every bar (numbers, $params, and pure operations on them).
    offset: where the node's text starts in the expression.
    """

    kind: str
    op: str
    type: str
    offset: int
    args: tuple[Node, ...] = ()
    value: Any = None
    constant: bool = False


@dataclass(frozen=True)
class Expression:
    """A parsed, type-checked expression.

    text: the source.
    root: the syntax tree.
    order: every node once, each after its arguments (the evaluation order).
    params: each $param name (without $) with the offset of its first use.
    series: each series("name") with the offset of its first use.
    """

    text: str
    root: Node
    order: tuple[Node, ...]
    params: dict[str, int]
    series: dict[str, int]

    @property
    def type(self) -> str:
        """NUMBER or CONDITION."""
        return self.root.type


def parse_expression(text: Any, field: str, *, expect: str | None = None) -> Expression:
    """Parse and type-check `text`.

    field: the dotted path named by any violation (e.g. `config.signal_plugin_params.entry`).
    expect: NUMBER or CONDITION to require that result type; None accepts either.
    Raises ValidationError (an ExpressionViolation with offset and caret excerpt) on anything wrong.
    """
    if not isinstance(text, str):
        raise ValidationError.single(field, "must be an expression string")
    if len(text) > MAX_TEXT_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_TEXT_BYTES:
        raise ExpressionProblem(0, "limit", f"expression longer than {MAX_TEXT_BYTES} bytes").error(field, text[:200])
    parsed = _compile(text)
    if isinstance(parsed, ExpressionProblem):
        raise parsed.error(field, text)
    if expect is not None and parsed.type != expect:
        raise ExpressionProblem(0, "type", _type_message(f"the {field.rsplit('.', 1)[-1]}", expect, parsed.type)).error(
            field, text
        )
    return parsed


@lru_cache(maxsize=1024)
def _compile(text: str) -> Expression | ExpressionProblem:
    # Cached by text: a sweep validates and evaluates the same few texts many times.
    try:
        root = _Parser(text).parse()
    except ExpressionProblem as problem:
        return problem.with_traceback(None)  # the cache keeps the problem, not the parser's frames
    order = _postorder(root)
    params: dict[str, int] = {}
    series: dict[str, int] = {}
    for node in order:
        if node.kind == "param":
            params.setdefault(node.value, node.offset)
        elif node.kind == "call" and node.op == "series":
            series.setdefault(node.args[0].value, node.offset)
    return Expression(text, root, order, params, series)


def _postorder(root: Node) -> tuple[Node, ...]:
    order: list[Node] = []
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(node.args))
    return tuple(order)


def _type_message(what: str, expected: str, got: str) -> str:
    article = {NUMBER: "a number", CONDITION: "a condition (true/false)", STRING: "a string"}
    hint = ""
    if expected == NUMBER and got == CONDITION:
        hint = "; use where(condition, 1, 0) for a number"
    elif expected == CONDITION and got == NUMBER:
        hint = "; compare it, e.g. x > 0"
    return f"{what} must be {article[expected]}, got {article[got]}{hint}"


def _no_string(node: Node) -> None:
    if node.type == STRING:
        raise ExpressionProblem(node.offset, "type", "a string is allowed only as the argument of series()")


class _Parser:
    """Recursive descent, lowest precedence first: or, and, not, comparison, + -, * /, unary -, operands."""

    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0

    def parse(self) -> Node:
        node = self.disjunction()
        token = self.peek()
        if token.kind != "end":
            if token.text == "(":
                raise ExpressionProblem(token.offset, "syntax", "unexpected '(': only function names can be called")
            message = f"unexpected {token.text!r}; expected {_OPERATOR} or the end"
            raise ExpressionProblem(token.offset, "syntax", message)
        _no_string(node)
        return node

    # -- token handling
    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def take(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def accept(self, *texts: str) -> Token | None:
        token = self.peek()
        if token.kind in ("op", "keyword") and token.text in texts:
            self.index += 1
            return token
        return None

    def enter(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionProblem(
                token.offset,
                "limit",
                f"nesting deeper than {MAX_DEPTH} levels (parentheses, calls, unary minus and not count)",
            )

    # -- grammar
    def disjunction(self) -> Node:
        node = self.conjunction()
        while token := self.accept("or"):
            node = self.logical("or", token, node, self.conjunction())
        return node

    def conjunction(self) -> Node:
        node = self.negation()
        while token := self.accept("and"):
            node = self.logical("and", token, node, self.negation())
        return node

    def negation(self) -> Node:
        token = self.accept("not")
        if token is None:
            return self.comparison()
        self.enter(token)
        operand = self.negation()
        self.depth -= 1
        self.check_type(operand, CONDITION, "the operand of not")
        return Node("operator", "not", CONDITION, token.offset, (operand,), constant=operand.constant)

    def comparison(self) -> Node:
        node = self.sum()
        token = self.accept(*COMPARISONS)
        if token is None:
            return node
        right = self.sum()
        for side, operand in (("left", node), ("right", right)):
            self.check_type(operand, NUMBER, f"the {side} side of {token.text}")
        constant = node.constant and right.constant
        node = Node("operator", token.text, CONDITION, node.offset, (node, right), constant=constant)
        chained = self.accept(*COMPARISONS)
        if chained is not None:
            raise ExpressionProblem(
                chained.offset, "syntax", "comparisons cannot be chained; join them with and, e.g. a < b and b < c"
            )
        return node

    def sum(self) -> Node:
        node = self.product()
        while token := self.accept("+", "-"):
            node = self.arithmetic(token, node, self.product())
        return node

    def product(self) -> Node:
        node = self.unary()
        while token := self.accept("*", "/"):
            if token.text == "*" and self.peek().text == "*":
                raise ExpressionProblem(token.offset, "syntax", "'**' (power) is not part of the language")
            node = self.arithmetic(token, node, self.unary())
        return node

    def unary(self) -> Node:
        token = self.accept("-")
        if token is None:
            return self.operand()
        self.enter(token)
        operand = self.unary()
        self.depth -= 1
        self.check_type(operand, NUMBER, "the operand of unary -")
        return Node("operator", "neg", NUMBER, token.offset, (operand,), constant=operand.constant)

    def operand(self) -> Node:
        token = self.take()
        if token.kind == "number":
            return Node("number", "number", NUMBER, token.offset, value=token.number, constant=True)
        if token.kind == "param":
            return Node("param", "param", NUMBER, token.offset, value=token.text[1:], constant=True)
        if token.kind == "string":
            return Node("string", "string", STRING, token.offset, value=token.text[1:-1], constant=True)
        if token.kind == "name":
            return self.name(token)
        if token.text == "(":
            self.enter(token)
            node = self.disjunction()
            self.expect(")", f"to close the ( at offset {token.offset}")
            self.depth -= 1
            return node
        if token.kind == "end":
            raise ExpressionProblem(token.offset, "syntax", f"unexpected end of expression; expected {_OPERAND}")
        raise ExpressionProblem(token.offset, "syntax", f"unexpected {token.text!r}; expected {_OPERAND}")

    def name(self, token: Token) -> Node:
        called = self.peek().text == "("
        if token.text in BAR_NAMES:
            if called:
                raise ExpressionProblem(token.offset, "unknown name", f"{token.text} is a bar value, not a function")
            return Node("bar", "bar", NUMBER, token.offset, value=token.text)
        function = FUNCTIONS.get(token.text)
        if function is None:
            if called:
                known = ", ".join(FUNCTIONS)
                message = f"unknown function {token.text!r}; expected one of {known}"
            else:
                message = f"unknown name {token.text!r}; expected {_OPERAND}"
            raise ExpressionProblem(token.offset, "unknown name", message)
        if not called:
            raise ExpressionProblem(
                token.offset, "syntax", f"{token.text} is a function; call it as {function.signature}"
            )
        return self.call(token, function)

    def call(self, name: Token, function: Function) -> Node:
        opening = self.take()
        self.enter(opening)
        args: list[Node] = []
        if not self.accept(")"):
            args.append(self.disjunction())
            while self.accept(","):
                args.append(self.disjunction())
            self.expect(")", f"to close the call of {function.name} at offset {name.offset}")
        self.depth -= 1
        if len(args) != len(function.args):
            count = len(function.args)
            raise ExpressionProblem(
                name.offset,
                "arity",
                f"{function.name} takes {count} argument{'s' * (count != 1)}: {function.signature}; got {len(args)}",
            )
        return self.typed_call(name, function, tuple(args))

    def typed_call(self, name: Token, function: Function, args: tuple[Node, ...]) -> Node:
        same = None
        for (arg_name, kind), arg in zip(function.args, args, strict=True):
            what = f"argument {arg_name} of {function.name}"
            if kind == "name":
                if arg.kind != "string":
                    raise ExpressionProblem(arg.offset, "type", f"{what} must be {ARG_KINDS[kind]}")
                if not SERIES_NAME.fullmatch(arg.value):
                    raise ExpressionProblem(
                        arg.offset, "syntax", f"{what} must be 1-64 letters, digits or . _ - (not starting with . _ -)"
                    )
                continue
            _no_string(arg)
            if kind in ("window", "lag"):
                self.check_type(arg, NUMBER, what)
                if not arg.constant:
                    message = f"{what} must be {ARG_KINDS[kind]}, the same on every bar"
                    raise ExpressionProblem(arg.offset, "type", message)
            elif kind == "value":
                if same is not None and arg.type != same:
                    raise ExpressionProblem(arg.offset, "type", _type_message(what, same, arg.type) + " like the other")
                same = arg.type
            else:
                self.check_type(arg, kind, what)
        result = same if function.result == "same" else function.result
        constant = function.pure and all(a.constant for a in args)
        return Node("call", function.name, result, name.offset, args, constant=constant)

    def expect(self, text: str, why: str) -> None:
        token = self.peek()
        if token.text != text or token.kind not in ("op",):
            found = "the end" if token.kind == "end" else repr(token.text)
            raise ExpressionProblem(token.offset, "syntax", f"expected {text!r} {why}, found {found}")
        self.index += 1

    def arithmetic(self, token: Token, left: Node, right: Node) -> Node:
        for side, operand in (("left", left), ("right", right)):
            self.check_type(operand, NUMBER, f"the {side} side of {token.text}")
        constant = left.constant and right.constant
        return Node("operator", token.text, NUMBER, left.offset, (left, right), constant=constant)

    def logical(self, op: str, token: Token, left: Node, right: Node) -> Node:
        for side, operand in (("left", left), ("right", right)):
            self.check_type(operand, CONDITION, f"the {side} side of {op}")
        return Node("operator", op, CONDITION, left.offset, (left, right), constant=left.constant and right.constant)

    @staticmethod
    def check_type(node: Node, expected: str, what: str) -> None:
        _no_string(node)
        if node.type != expected:
            raise ExpressionProblem(node.offset, "type", _type_message(what, expected, node.type))
