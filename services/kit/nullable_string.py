"""A string that may be null on the wire: a google.protobuf.Value holding string_value or null_value.

Envoy's JSON printer, like the local gateway's, leaves an unset proto3
`optional string` out of the JSON; a Value set to null_value prints `null`.
Fields that the seed's REST contract types `string | null` (the artifact
URIs) are therefore Values, and gRPC clients read and write them through
these two functions.
"""

from __future__ import annotations

from google.protobuf import struct_pb2


def write_nullable(target: struct_pb2.Value, text: str | None) -> None:
    """Sets `target` to `text`, or to null when `text` is None.

    target: the Value field of a message (e.g. `backtest.trades_uri`).
    text: the string, or None for null.
    """
    if text is None:
        target.null_value = struct_pb2.NULL_VALUE
    else:
        target.string_value = text


def read_nullable(value: struct_pb2.Value) -> str | None:
    """The string a Value holds; None for null, for an unset field and for any other kind."""
    return value.string_value if value.WhichOneof("kind") == "string_value" else None
