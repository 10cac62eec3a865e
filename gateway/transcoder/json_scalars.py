"""How single values print: numbers as protobuf's C++ printer does, int64 as strings, bytes as base64.

Envoy prints with the C++ printer: a double is `%.15g`, or `%.17g` when that
does not round-trip (so `10`, not Python's `10.0`); a float likewise with 6
and 9 digits; NaN and infinities are the strings "NaN", "Infinity", "-Infinity".
"""

from __future__ import annotations

import base64
import json
import math
import struct
from collections.abc import Callable

from google.protobuf import descriptor

F = descriptor.FieldDescriptor
Out = list[str]

escape = json.encoder.encode_basestring  # quotes, backslashes and control characters; UTF-8 kept


def _special(value: float) -> str | None:
    if math.isnan(value):
        return '"NaN"'
    if math.isinf(value):
        return '"Infinity"' if value > 0 else '"-Infinity"'
    return None


def format_double(value: float) -> str:
    """A double as C++ SimpleDtoa prints it: shortest of %.15g / %.17g that round-trips."""
    if value.is_integer() and 0 < abs(value) < 1e15:
        return "%d" % value  # what %.15g prints for a whole number of up to 15 digits, without the round trip
    special = _special(value)
    if special is not None:
        return special
    text = "%.15g" % value
    if float(text) != value:
        text = "%.17g" % value
    return text


def _as_float32(value: float) -> float:
    return struct.unpack("<f", struct.pack("<f", value))[0]


def format_float(value: float) -> str:
    """A float as C++ SimpleFtoa prints it: %.6g, or %.9g when that does not round-trip."""
    special = _special(value)
    if special is not None:
        return special
    text = "%.6g" % value
    try:
        exact = _as_float32(float(text)) == value
    except OverflowError:
        exact = False
    return text if exact else "%.9g" % value


def write_int64(value: int, out: Out) -> None:
    """Append an int64 as protobuf's JSON writes it: a decimal string, quoted."""
    out.append('"%d"' % value)


def write_int32(value: int, out: Out) -> None:
    """Append an int32 (or uint32 or enum number) as a bare decimal."""
    out.append("%d" % value)


def write_bool(value: bool, out: Out) -> None:
    """Append a bool as JSON true or false."""
    out.append("true" if value else "false")


def write_string(value: str, out: Out) -> None:
    """Append a string, escaped as protobuf's JSON writer escapes it."""
    out.append(escape(value))


def write_bytes(value: bytes, out: Out) -> None:
    """Append bytes as quoted standard base64."""
    out.append('"' + base64.b64encode(value).decode("ascii") + '"')


def write_double(value: float, out: Out) -> None:
    """Append a double as format_double prints it."""
    out.append(format_double(value))


def write_float(value: float, out: Out) -> None:
    """Append a float as format_float prints it."""
    out.append(format_float(value))


def map_key(field: descriptor.FieldDescriptor) -> Callable[[object], str]:
    """The function that prints a map key of `field`'s type as a JSON object key (always a string)."""
    if field.type == F.TYPE_STRING:
        return escape
    if field.type == F.TYPE_BOOL:
        return lambda key: '"true"' if key else '"false"'
    return lambda key: '"%d"' % key


_INT64 = frozenset((F.TYPE_INT64, F.TYPE_UINT64, F.TYPE_SINT64, F.TYPE_FIXED64, F.TYPE_SFIXED64))
_INT32 = frozenset((F.TYPE_INT32, F.TYPE_UINT32, F.TYPE_SINT32, F.TYPE_FIXED32, F.TYPE_SFIXED32))
_OTHERS = {
    F.TYPE_DOUBLE: write_double,
    F.TYPE_FLOAT: write_float,
    F.TYPE_BOOL: write_bool,
    F.TYPE_STRING: write_string,
    F.TYPE_BYTES: write_bytes,
}


def scalar_writer(kind: int) -> Callable[[object, Out], None]:
    """The writer of a scalar field type (FieldDescriptor.TYPE_*; not enums or messages)."""
    if kind in _INT64:
        return write_int64
    if kind in _INT32:
        return write_int32
    return _OTHERS[kind]
