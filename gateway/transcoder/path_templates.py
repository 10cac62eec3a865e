"""Parses `google.api.http` path templates such as `/v1/{name=shelves/*}/books:publish`.

Grammar (google/api/http.proto):
    Template = "/" Segments [ Verb ] ;  Segments = Segment { "/" Segment } ;
    Segment  = "*" | "**" | LITERAL | Variable ;  Variable = "{" FieldPath [ "=" Segments ] "}" ;
    Verb     = ":" LITERAL ;
`{x}` means `{x=*}`: exactly one segment.
"""

from __future__ import annotations

import dataclasses
import re

SINGLE = "*"
MULTI = "**"
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclasses.dataclass(frozen=True)
class TemplateVariable:
    """A `{field.path=...}` part of a template.

    field_path: proto field names from the request message down to the bound field.
    start: index of the variable's first segment.
    end: index one past its last segment; negative when it holds `**`, counted from the
        end of the request path (-1: through the last segment), as the matcher needs.
    """

    field_path: tuple[str, ...]
    start: int
    end: int

    @property
    def multi_segment(self) -> bool:
        """Whether the variable may bind more than one segment (its slashes are kept)."""
        return self.end < 0 or self.end - self.start > 1


@dataclasses.dataclass(frozen=True)
class PathTemplate:
    """A parsed template.

    segments: literal segments, `*` or `**`, variables expanded in place.
    variables: where each variable sits in `segments`.
    verb: the custom verb after the last `:`, or "".
    """

    segments: tuple[str, ...]
    variables: tuple[TemplateVariable, ...]
    verb: str


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, why: str) -> ValueError:
        return ValueError(f"invalid path template {self.text!r} at {self.pos}: {why}")

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def parse(self) -> PathTemplate:
        if not self.text.startswith("/"):
            raise self.fail("must start with '/'")
        if self.text == "/":
            return PathTemplate((), (), "")
        self.pos = 1
        segments: list[str] = []
        spans: list[tuple[tuple[str, ...], int, int]] = []
        self.segments(segments, spans, inside_variable=False)
        verb = ""
        if self.peek() == ":":
            verb = self.text[self.pos + 1 :]
            if not verb or "/" in verb or "{" in verb:
                raise self.fail("bad verb")
            self.pos = len(self.text)
        if self.pos != len(self.text):
            raise self.fail("unexpected character")
        if segments.count(MULTI) > 1:
            raise self.fail("more than one '**'")
        variables = []
        for field_path, start, end in spans:
            if MULTI in segments[start:end]:
                end = end - len(segments) - 1  # relative to the end of the request path
            variables.append(TemplateVariable(field_path, start, end))
        return PathTemplate(tuple(segments), tuple(variables), verb)

    def segments(self, out: list[str], spans: list, *, inside_variable: bool) -> None:
        while True:
            if self.peek() == "{":
                if inside_variable:
                    raise self.fail("nested variable")
                self.variable(out, spans)
            else:
                out.append(self.literal(inside_variable))
            if self.peek() != "/":
                return
            self.pos += 1

    def literal(self, inside_variable: bool) -> str:
        stops = "/}" if inside_variable else "/:{}"
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in stops:
            self.pos += 1
        if self.pos == start:
            raise self.fail("empty segment")
        return self.text[start : self.pos]

    def variable(self, out: list[str], spans: list) -> None:
        self.pos += 1
        start = self.pos
        while self.peek() not in ("=", "}", ""):
            self.pos += 1
        field_path = tuple(self.text[start : self.pos].split("."))
        if not all(_IDENT.fullmatch(name) for name in field_path):
            raise self.fail("bad field path")
        nested: list[str] = []
        if self.peek() == "=":
            self.pos += 1
            self.segments(nested, [], inside_variable=True)
        else:
            nested.append(SINGLE)
        if self.peek() != "}":
            raise self.fail("missing '}'")
        self.pos += 1
        spans.append((field_path, len(out), len(out) + len(nested)))
        out.extend(nested)


def parse_template(text: str) -> PathTemplate:
    """Parses one template; ValueError names the problem."""
    return _Parser(text).parse()
