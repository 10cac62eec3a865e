"""Turns path and query strings into field values, accepting what Envoy's converter accepts.

json_format.ParseDict is no use here: it rejects "true" for a bool, which a
query string can only ever send as text.
"""

from __future__ import annotations

import base64
import binascii
import math
import re

from google.protobuf import descriptor

F = descriptor.FieldDescriptor

_INTEGER = re.compile(r"[-+]?[0-9]+")
_DECIMAL = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_SPECIAL_FLOATS = {"nan": math.nan, "inf": math.inf, "infinity": math.inf}
_FLOAT32_MAX = 3.4028234663852886e38
# The spellings protobuf's safe_strtob accepts, compared case-insensitively.
_BOOLS = {"true": True, "t": True, "yes": True, "y": True, "1": True,
          "false": False, "f": False, "no": False, "n": False, "0": False}  # fmt: skip
_INT_RANGES = {
    F.TYPE_INT32: (-(2**31), 2**31 - 1),
    F.TYPE_SINT32: (-(2**31), 2**31 - 1),
    F.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    F.TYPE_UINT32: (0, 2**32 - 1),
    F.TYPE_FIXED32: (0, 2**32 - 1),
    F.TYPE_INT64: (-(2**63), 2**63 - 1),
    F.TYPE_SINT64: (-(2**63), 2**63 - 1),
    F.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    F.TYPE_UINT64: (0, 2**64 - 1),
    F.TYPE_FIXED64: (0, 2**64 - 1),
}
_TYPE_NAMES = {value: name[len("TYPE_") :].lower() for name, value in vars(F).items() if name.startswith("TYPE_")}


def _invalid(field: descriptor.FieldDescriptor, text: str) -> ValueError:
    kind = field.enum_type.full_name if field.type == F.TYPE_ENUM else _TYPE_NAMES.get(field.type, "value")
    return ValueError(f'Invalid value "{text}" for field "{field.name}" of type {kind}')


def _number(field: descriptor.FieldDescriptor, text: str) -> float:
    special = _SPECIAL_FLOATS.get(text.lstrip("+-").lower())
    if special is not None:
        value = -special if text.startswith("-") else special
    elif _DECIMAL.fullmatch(text):
        value = float(text)
    else:
        raise _invalid(field, text)
    if field.type == F.TYPE_FLOAT and math.isfinite(value) and abs(value) > _FLOAT32_MAX:
        raise _invalid(field, text)
    return value


def _bytes(field: descriptor.FieldDescriptor, text: str) -> bytes:
    # Standard and URL-safe alphabets both work, padding optional, as in Envoy.
    standard = text.replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise _invalid(field, text) from None


def _enum(field: descriptor.FieldDescriptor, text: str) -> int:
    value = field.enum_type.values_by_name.get(text)
    if value is not None:
        return value.number
    if _INTEGER.fullmatch(text) and int(text) in field.enum_type.values_by_number:
        return int(text)
    raise _invalid(field, text)


def parse_scalar(field: descriptor.FieldDescriptor, text: str) -> object:
    """The value of scalar or enum `field` written as `text`; ValueError when it does not fit.

    field: the field being set (its type decides the parsing).
    text: the already percent-decoded value.
    """
    kind = field.type
    if kind == F.TYPE_STRING:
        return text
    if kind in _INT_RANGES:
        low, high = _INT_RANGES[kind]
        if not _INTEGER.fullmatch(text) or not low <= int(text) <= high:
            raise _invalid(field, text)
        return int(text)
    if kind in (F.TYPE_DOUBLE, F.TYPE_FLOAT):
        return _number(field, text)
    if kind == F.TYPE_BOOL:
        value = _BOOLS.get(text.lower())
        if value is None:
            raise _invalid(field, text)
        return value
    if kind == F.TYPE_ENUM:
        return _enum(field, text)
    if kind == F.TYPE_BYTES:
        return _bytes(field, text)
    raise _invalid(field, text)
