"""Protobuf's base-128 varints, for the few places that read or write wire bytes by hand.

The request guard's explanation of undecodable bytes, the gateway reading an
HttpBody's data without a parse, and the results service writing HttpBody
messages without building them all need exactly this much of the wire format.
"""

from __future__ import annotations


class TruncatedVarint(ValueError):
    """The bytes end inside a varint, or it is longer than 64 bits."""


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """(value, position after it) of the varint at `data[pos]`; TruncatedVarint when there is none."""
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise TruncatedVarint(pos)
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if not byte & 0x80:
            return value, pos


def varint(value: int) -> bytes:
    """`value` (not negative) as a varint."""
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)
