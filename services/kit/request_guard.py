"""Input no service should ever see, found generically in any request message.

The error interceptor (services/kit/error_interceptor.py) runs it before
every RPC that the gateway exposes, from the message's own descriptor, so no
servicer repeats these checks:

- Text (string fields, google.protobuf.Struct keys and string values) must
  not contain NUL: PostgreSQL's text and JSONB cannot store it, and the
  insert would fail with a 500.
- Text is at most MAX_STRING_CHARS characters. Names, descriptions, URIs,
  symbols and keys are far shorter; the bound keeps one request from making a
  row, a NATS job (1 MiB payload limit) or a log line unboundedly large.
- Numbers (double and float fields, Struct numbers) must be finite: JSON has
  no NaN or infinity (a JSON `1e999` parses to infinity), JSONB refuses them,
  and a stored infinity could not be printed back as a JSON number.

Each problem is a FieldViolation whose field is the dotted path into the
request (`config.signal_plugin_params.fast_period`, `universe[2]`); a Struct
key over MAX_KEY_IN_PATH characters appears in it by its start and length.
"""

from __future__ import annotations

import math

from google.api import annotations_pb2
from google.protobuf import descriptor, descriptor_pool, message

from services.domain.errors import FieldViolation

MAX_STRING_CHARS = 65_536
MAX_KEY_IN_PATH = 64
_FD = descriptor.FieldDescriptor


def request_violations(request: message.Message) -> list[FieldViolation]:
    """Every NUL character, oversized text and non-finite number in `request`, by field path.

    request: any protobuf message (a gRPC request as the server deserialized it).
    """
    found: list[FieldViolation] = []
    _message(request, "", found)
    return found


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _key_name(key: str) -> str:
    """A Struct key as a path names it: whole, unless it is too long to repeat in an error.

    A violation's path travels in the gRPC status, whose trailers gRPC caps at 16 KiB: a
    65,537-character key in it ended the call with RESOURCE_EXHAUSTED instead of the 422.
    """
    if len(key) <= MAX_KEY_IN_PATH:
        return key
    return f"{key[:MAX_KEY_IN_PATH]}...({len(key)} characters)"


def _message(msg: message.Message, path: str, found: list[FieldViolation]) -> None:
    kind = msg.DESCRIPTOR.full_name
    if kind == "google.protobuf.Struct":
        for key, value in msg.fields.items():
            where = _join(path, _key_name(key))
            _text(key, where, found)
            _value(value, where, found)
        return
    if kind == "google.protobuf.Value":
        _value(msg, path, found)
        return
    if kind == "google.protobuf.ListValue":
        for index, value in enumerate(msg.values):
            _value(value, f"{path}[{index}]", found)
        return
    for field, value in msg.ListFields():
        where = _join(path, field.name)
        if field.type == _FD.TYPE_MESSAGE and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            for key in value:
                named = f"{where}[{_key_name(key)!r}]" if isinstance(key, str) else f"{where}[{key!r}]"
                if isinstance(key, str):
                    _text(key, named, found)
                _single(value_field, value[key], named, found)
        elif field.is_repeated:
            for index, item in enumerate(value):
                _single(field, item, f"{where}[{index}]", found)
        else:
            _single(field, value, where, found)


def _single(field: descriptor.FieldDescriptor, value, path: str, found: list[FieldViolation]) -> None:
    if field.type == _FD.TYPE_MESSAGE:
        _message(value, path, found)
    elif field.type == _FD.TYPE_STRING:
        _text(value, path, found)
    elif field.type in (_FD.TYPE_DOUBLE, _FD.TYPE_FLOAT):
        _number(value, path, found)


def _value(value, path: str, found: list[FieldViolation]) -> None:
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        _number(value.number_value, path, found)
    elif kind == "string_value":
        _text(value.string_value, path, found)
    elif kind in ("struct_value", "list_value"):
        _message(getattr(value, kind), path, found)


def _text(text: str, path: str, found: list[FieldViolation]) -> None:
    if "\x00" in text:
        found.append(FieldViolation(path, "must not contain NUL characters"))
    if len(text) > MAX_STRING_CHARS:
        found.append(FieldViolation(path, f"must be at most {MAX_STRING_CHARS} characters"))


def _number(number: float, path: str, found: list[FieldViolation]) -> None:
    if not math.isfinite(number):
        found.append(FieldViolation(path, "must be a finite number"))


def is_public(method_path: str) -> bool:
    """Whether `/pkg.Service/Method` has a google.api.http rule (in the generated code's descriptor pool).

    Internal RPCs (RunReportService) are not guarded: executors' reports may hold non-finite metrics,
    which the catalog stores as null on purpose.
    """
    service, _, name = method_path.lstrip("/").partition("/")
    try:
        method = descriptor_pool.Default().FindMethodByName(f"{service}.{name}")
    except KeyError:
        return False  # health, reflection: not ours
    return method.GetOptions().HasExtension(annotations_pb2.http)
