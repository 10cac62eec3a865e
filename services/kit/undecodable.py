"""Request bytes protobuf refuses to parse, explained by field path.

A gRPC client that writes its own bytes can put text that is not UTF-8 (a
lone surrogate's WTF-8 bytes `ED A0 80`, a stray `FF`) in a string field;
protobuf then refuses the whole message with DecodeError, which gRPC would
answer as UNKNOWN naming the exception class. The error interceptor
(services/kit/error_interceptor.py) answers it as a validation error
instead, with the violations found here: the wire format is walked by the
request type's descriptor, and every string field (Struct keys and string
values included, spelled as the request guard spells them) whose bytes are
not UTF-8 is named. Bytes that are not a message at all get one violation
for the whole request.
"""

from __future__ import annotations

from google.protobuf import descriptor, descriptor_pool

from services.domain.errors import FieldViolation
from services.kit.protobuf_wire import TruncatedVarint, read_varint

_FD = descriptor.FieldDescriptor
_VARINT, _FIXED64, _LENGTH, _FIXED32 = 0, 1, 2, 5
WHOLE_REQUEST = "request"
_NOT_TEXT = "must be UTF-8 text"


class _Corrupt(Exception):
    """The bytes end inside a field or use a wire type protobuf no longer has."""


def request_type(method_path: str) -> descriptor.Descriptor | None:
    """The request type of `/pkg.Service/Method` in the generated code's pool, or None when it is not ours."""
    service, _, name = method_path.lstrip("/").partition("/")
    try:
        return descriptor_pool.Default().FindMethodByName(f"{service}.{name}").input_type
    except KeyError:
        return None


def undecodable_violations(data: bytes, message_type: descriptor.Descriptor | None) -> list[FieldViolation]:
    """Why `data` is not a `message_type`: each string field that is not UTF-8, else the whole request."""
    found: list[FieldViolation] = []
    if message_type is not None:
        try:
            _message(data, message_type, "", found)
        except _Corrupt:
            pass
    return found or [FieldViolation(WHOLE_REQUEST, "is not a valid protobuf message of this method's type")]


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    try:
        return read_varint(data, pos)
    except TruncatedVarint:
        raise _Corrupt from None


def _fields(data: bytes) -> list[tuple[int, bytes | None]]:
    """(field number, bytes of a length-delimited value or None) in wire order."""
    out: list[tuple[int, bytes | None]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if wire_type == _VARINT:
            _, pos = _varint(data, pos)
            out.append((number, None))
        elif wire_type in (_FIXED64, _FIXED32):
            pos += 8 if wire_type == _FIXED64 else 4
            out.append((number, None))
        elif wire_type == _LENGTH:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise _Corrupt
            out.append((number, data[pos : pos + length]))
            pos += length
        else:
            raise _Corrupt
    if pos != len(data):
        raise _Corrupt
    return out


def _is_text(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _shown(raw: bytes) -> str:
    text = raw.decode("utf-8", "backslashreplace")
    return text if len(text) <= 64 else f"{text[:64]}...({len(text)} characters)"


def _message(data: bytes, message_type: descriptor.Descriptor, path: str, found: list[FieldViolation]) -> None:
    kind = message_type.full_name
    if kind == "google.protobuf.Struct":
        for number, entry in _fields(data):
            if number == 1 and entry is not None:
                _struct_entry(entry, path, found)
        return
    if kind == "google.protobuf.ListValue":
        values = [raw for number, raw in _fields(data) if number == 1 and raw is not None]
        for index, raw in enumerate(values):
            _value(raw, f"{path}[{index}]", found)
        return
    if kind == "google.protobuf.Value":
        _value(data, path, found)
        return
    seen: dict[int, int] = {}
    for number, raw in _fields(data):
        field = message_type.fields_by_number.get(number)
        if field is None or raw is None:
            continue
        where = _join(path, field.name)
        if field.is_repeated:
            index = seen.get(number, 0)
            seen[number] = index + 1
            where = f"{where}[{index}]"
        if field.type == _FD.TYPE_STRING and not _is_text(raw):
            found.append(FieldViolation(where, _NOT_TEXT))
        elif field.type == _FD.TYPE_MESSAGE:
            _message(raw, field.message_type, where, found)


def _struct_entry(entry: bytes, path: str, found: list[FieldViolation]) -> None:
    key, value = b"", None
    for number, raw in _fields(entry):
        if number == 1 and raw is not None:
            key = raw
        elif number == 2 and raw is not None:
            value = raw
    where = _join(path, _shown(key))
    if not _is_text(key):
        found.append(FieldViolation(where, "keys " + _NOT_TEXT))
    if value is not None:
        _value(value, where, found)


def _value(data: bytes, path: str, found: list[FieldViolation]) -> None:
    # google.protobuf.Value: string_value = 3, struct_value = 5, list_value = 6.
    pool = descriptor_pool.Default()
    for number, raw in _fields(data):
        if raw is None:
            continue
        if number == 3 and not _is_text(raw):
            found.append(FieldViolation(path, _NOT_TEXT))
        elif number == 5:
            _message(raw, pool.FindMessageTypeByName("google.protobuf.Struct"), path, found)
        elif number == 6:
            _message(raw, pool.FindMessageTypeByName("google.protobuf.ListValue"), path, found)
