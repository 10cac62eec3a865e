"""The data of a serialized google.api.HttpBody, read off the wire without building a message.

A streamed download or JSON text passes through the gateway as HttpBody
messages of up to a few megabytes; parsing each into a message object and
reading its `data` copies the bytes twice. This reads the two fields the
results service sends (content_type, data) and returns the data as a view of
the received bytes. Anything else (extensions, unknown fields, a malformed
message) returns None, and the caller parses the message as before, so
errors and edge cases keep their old answers.
"""

from __future__ import annotations

from services.kit.protobuf_wire import TruncatedVarint, read_varint

_CONTENT_TYPE = 0x0A  # field 1, length-delimited
_DATA = 0x12  # field 2, length-delimited


def http_body_data(raw: bytes) -> memoryview | None:
    """HttpBody.data as a view of `raw`, or None when `raw` holds more than content_type and data (or is malformed)."""
    view, pos, end, data = memoryview(raw), 0, len(raw), None
    while pos < end:
        tag = raw[pos]
        if tag != _CONTENT_TYPE and tag != _DATA:
            return None
        try:
            length, pos = read_varint(raw, pos + 1)
        except TruncatedVarint:
            return None
        if length > end - pos:
            return None
        if tag == _DATA:
            data = view[pos : pos + length]  # a repeated field: the last one wins, as in a parser
        pos += length
    return view[0:0] if data is None else data
