"""Hostile values for every string and number field of a request, generated from its descriptor.

A case takes one valid baseline request (a dict in proto field names, as
`json_format.MessageToDict(preserving_proto_field_name=True)` would give)
and spoils exactly one place in it: a string field, a repeated string's
element, a number field, or a leaf or key of a `google.protobuf.Struct`,
`ListValue` or `Value` the baseline holds (strategy params, plugin
params, PATCHed metrics, `param_grid`, `base_config`, rule trees). Nested
messages are walked whether or not the baseline sets them.

What each value is, and where it can be sent:

- text: a NUL character; a lone surrogate (the JSON escape `"\\ud800"` in a
  REST body, its WTF-8 bytes percent-encoded in a path or query; over gRPC,
  where no protobuf library encodes one, the same bytes written into the
  serialized request by hand, as a client writing its own bytes could); 65,537
  characters, one over the documented limit; and for identifiers (ids,
  URIs, symbols, path variables) the baseline with one character swapped
  for a look-alike (Cyrillic `а`, a full-width digit).
- double fields: NaN and both infinities (gRPC; over REST the proto3 JSON
  strings `"NaN"`, `"Infinity"`), and the JSON number `1e999`, which
  overflows a double (REST).
- Struct numbers: the same, as a Struct number is a double.
- integer fields: values beyond int32 and int64 (and uint64), `1e999`
  (REST: no typed client can send them) and -1 (both: every integer of
  the contract is a count, a version or a bar count).
- bool, enum and bytes fields get nothing: the first two cannot hold a
  hostile value a typed client could send, and the only bytes field of a
  request is an upload's content (tested by the import tests).
- Limits a field's proto comment documents: text one character over "at
  most N characters", and integers one outside a range written "A..B".

The expected violation path is the request guard's spelling
(services/kit/request_guard.py): `config.signal_plugin_params.fast_period`,
`universe[0]`, `param_grid[1].commission`.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Callable, Iterator
from typing import Any

from google.protobuf import descriptor

F = descriptor.FieldDescriptor
MAX_STRING_CHARS = 65_536  # docs/api.md, "Defaults and validation"
SURROGATE = "\ud800"
REST, GRPC = "rest", "grpc"
BOTH = frozenset({REST, GRPC})
_STRUCTS = ("google.protobuf.Struct", "google.protobuf.ListValue", "google.protobuf.Value")
_INTEGERS = {F.TYPE_INT32, F.TYPE_INT64, F.TYPE_SINT32, F.TYPE_SINT64, F.TYPE_SFIXED32, F.TYPE_SFIXED64}
_UNSIGNED = {F.TYPE_UINT32, F.TYPE_UINT64, F.TYPE_FIXED32, F.TYPE_FIXED64}
_FLOATS = {F.TYPE_DOUBLE, F.TYPE_FLOAT}
_MAX_CHARS = re.compile(r"at most ([\d,]+) characters")
_RANGE = re.compile(r"\b(-?\d+)\.\.(-?\d+)\b")
# One character of a plausible identifier -> a character that looks the same and is not ASCII.
_LOOK_ALIKES = {
    **{c: chr(0xFF10 + int(c)) for c in "0123456789"},  # full-width digits
    **dict(zip("aceopxABCEHKMOPTX", "асеорхАВСЕНКМОРТХ", strict=True)),  # Cyrillic
}


@dataclasses.dataclass(frozen=True)
class Raw:
    """A JSON token sent as it is (`1e999`), where json.dumps could not write it."""

    text: str


@dataclasses.dataclass(frozen=True)
class Case:
    """One request with one hostile value.

    steps: where the value goes in the baseline dict: field names, list indices, Struct keys.
    field: the violation path the answer must name (the request guard's spelling); for a spoiled
        Struct key, the path of the Struct holding it (the guard shortens a long key in the path).
    kind: what is hostile ("nul", "surrogate", "too-long", "look-alike", "nan", "1e999", ...).
    value: the hostile value; a Raw for REST-only JSON tokens.
    transports: REST, gRPC or both.
    renames_key: the value replaces the Struct key at `steps` (its value kept) instead of its value.
    """

    steps: tuple[str | int, ...]
    field: str
    kind: str
    value: Any
    transports: frozenset[str]
    renames_key: bool = False

    @property
    def id(self) -> str:
        """Short and unique within a method: the test's failure lines start with it."""
        where = ".".join(str(step) for step in self.steps)
        return f"{where}:{'key-' if self.renames_key else ''}{self.kind}"

    def apply(self, baseline: dict[str, Any]) -> dict[str, Any]:
        """A deep copy of `baseline` with this case's value in place."""
        request = copy.deepcopy(baseline)
        *parents, last = self.steps
        target: Any = request
        for step, following in zip(parents, self.steps[1:], strict=True):
            empty = [] if isinstance(following, int) else {}
            if isinstance(step, str) and step not in target:
                target[step] = empty
            elif isinstance(step, int) and step >= len(target):
                target.append(empty)
            target = target[step]
        if self.renames_key:
            target[self.value] = target.pop(last)
        elif isinstance(last, int) and last >= len(target):
            target.append(self.value)
        else:
            target[last] = self.value
        return request


def cases(
    message: descriptor.Descriptor,
    baseline: dict[str, Any],
    identifiers: frozenset[str] = frozenset(),
    comment: Callable[[descriptor.FieldDescriptor], str] = lambda field: "",
) -> list[Case]:
    """Every hostile case of one request type.

    message: the request's descriptor.
    baseline: a valid request as a dict; its Struct contents decide which Struct leaves are spoiled.
    identifiers: top-level field names to treat as identifiers besides ids, URIs and symbols (path variables).
    comment: a field's proto comment, where documented limits are read.
    """
    return list(_message_cases(message, baseline, (), "", identifiers, comment))


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _is_identifier(name: str, identifiers: frozenset[str]) -> bool:
    return name in identifiers or name in ("id", "symbol") or name.endswith(("_id", "_ids", "_uri"))


def _message_cases(
    message: descriptor.Descriptor, value: Any, steps: tuple, path: str, identifiers: frozenset[str], comment
) -> Iterator[Case]:
    value = value if isinstance(value, dict) else {}
    for field in message.fields:
        here, where = (*steps, field.name), _join(path, field.name)
        present = value.get(field.name)
        identifier = _is_identifier(field.name, identifiers if not steps else frozenset())
        if field.type == F.TYPE_MESSAGE:
            kind = field.message_type.full_name
            if field.message_type.GetOptions().map_entry:
                raise NotImplementedError(f"{where} is a map: spoil its keys and values here, as Struct keys are")
            if kind in _STRUCTS:
                if field.is_repeated:
                    for index, item in enumerate(present or [{}]):
                        yield from _struct_cases(item, (*here, index), f"{where}[{index}]")
                else:
                    yield from _struct_cases(present if present is not None else {}, here, where)
            elif field.is_repeated:  # its first element (one made when the baseline has none)
                first = present[0] if present else {}
                yield from _message_cases(field.message_type, first, (*here, 0), f"{where}[0]", frozenset(), comment)
            else:
                yield from _message_cases(field.message_type, present, here, where, frozenset(), comment)
        else:
            if field.is_repeated:
                items = present or []
                here, where, present = (*here, 0), f"{where}[0]", items[0] if items else None
            yield from _scalar_cases(field, present, here, where, identifier)
            yield from _documented_cases(field, comment(field), here, where)


def _scalar_cases(field: descriptor.FieldDescriptor, sample: Any, steps: tuple, where: str, identifier: bool):
    if field.type == F.TYPE_STRING:
        yield from _text_cases(sample, steps, where, identifier)
    elif field.type in _FLOATS:
        yield from _double_cases(steps, where)
    elif field.type in _INTEGERS or field.type in _UNSIGNED:
        yield from _integer_cases(steps, where)


def _documented_cases(field: descriptor.FieldDescriptor, text: str, steps: tuple, where: str) -> Iterator[Case]:
    if field.type == F.TYPE_STRING and (most := _MAX_CHARS.search(text)):
        limit = int(most.group(1).replace(",", ""))
        if limit < MAX_STRING_CHARS:
            yield Case(steps, where, f"over-{limit}-chars", "x" * (limit + 1), BOTH)
    if (field.type in _INTEGERS or field.type in _UNSIGNED) and (span := _RANGE.search(text)):
        low, high = int(span.group(1)), int(span.group(2))
        yield Case(steps, where, f"below-{low}", low - 1, BOTH)
        yield Case(steps, where, f"above-{high}", high + 1, BOTH)


def _text_cases(sample: Any, steps: tuple, where: str, identifier: bool) -> Iterator[Case]:
    base = sample if isinstance(sample, str) and sample else "x"
    yield Case(steps, where, "nul", base[:1] + "\x00" + base[1:], BOTH)
    yield Case(steps, where, "surrogate", base + SURROGATE, BOTH)
    yield Case(steps, where, "too-long", "x" * (MAX_STRING_CHARS + 1), BOTH)
    if identifier:
        swapped = look_alike(base)
        if swapped != base:
            yield Case(steps, where, "look-alike", swapped, BOTH)


def look_alike(text: str) -> str:
    """`text` with its first character that has a look-alike replaced by it (unchanged when none has)."""
    for index, char in enumerate(text):
        if char in _LOOK_ALIKES:
            return text[:index] + _LOOK_ALIKES[char] + text[index + 1 :]
    return text


def _double_cases(steps: tuple, where: str) -> Iterator[Case]:
    for name in ("NaN", "Infinity", "-Infinity"):
        yield Case(steps, where, name.lower(), name, BOTH)  # proto3 JSON spells them as strings
    yield Case(steps, where, "1e999", Raw("1e999"), frozenset({REST}))
    yield Case(steps, where, "-1e999", Raw("-1e999"), frozenset({REST}))


def _integer_cases(steps: tuple, where: str) -> Iterator[Case]:
    rest = frozenset({REST})
    yield Case(steps, where, "negative", -1, BOTH)
    yield Case(steps, where, "over-int32", Raw(str(2**31)), rest)
    yield Case(steps, where, "under-int32", Raw(str(-(2**31) - 1)), rest)
    yield Case(steps, where, "over-int64", Raw(str(2**63)), rest)
    yield Case(steps, where, "over-uint64", Raw(str(2**64)), rest)
    yield Case(steps, where, "1e999", Raw("1e999"), rest)


def _struct_cases(value: Any, steps: tuple, where: str) -> Iterator[Case]:
    """Spoils every leaf and key of a Struct/ListValue/Value the baseline holds (one new key when it is empty)."""
    if isinstance(value, dict):
        if not value:
            yield from _struct_leaf_cases("x", (*steps, "hostile"), _join(where, "hostile"), "hostile")
            return
        for key, item in value.items():
            for case in _text_cases(key, (*steps, key), where, False):
                yield dataclasses.replace(case, renames_key=True)
            yield from _struct_cases(item, (*steps, key), _join(where, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _struct_cases(item, (*steps, index), f"{where}[{index}]")
    else:
        yield from _struct_leaf_cases(value, steps, where, str(steps[-1]))


def _struct_leaf_cases(value: Any, steps: tuple, where: str, name: str) -> Iterator[Case]:
    if isinstance(value, str):
        yield from _text_cases(value, steps, where, _is_identifier(name, frozenset()))
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield Case(steps, where, "nan", float("nan"), frozenset({GRPC}))
        yield Case(steps, where, "infinity", float("inf"), frozenset({GRPC}))
        yield Case(steps, where, "-infinity", float("-inf"), frozenset({GRPC}))
        yield Case(steps, where, "1e999", Raw("1e999"), frozenset({REST}))
        yield Case(steps, where, "-1e999", Raw("-1e999"), frozenset({REST}))
