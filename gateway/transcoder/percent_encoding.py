"""Percent-decoding of path segments and query values, with Envoy's rules.

http.server hands over the request target decoded as latin-1 (one character
per byte), so the raw bytes are recovered before decoding; the decoded bytes
must be UTF-8.
"""

from __future__ import annotations

import re

# RFC 6570 reserved characters: multi-segment path variables keep them escaped
# (Envoy's default url_unescape_spec, ALL_CHARACTERS_EXCEPT_RESERVED).
_RESERVED = frozenset(b"!#$&'()*+,/:;=?@[]")
_ESCAPE = re.compile(rb"%([0-9A-Fa-f]{2})")


def _decode_all(match: re.Match[bytes]) -> bytes:
    return bytes((int(match.group(1), 16),))


def _decode_unreserved(match: re.Match[bytes]) -> bytes:
    value = int(match.group(1), 16)
    return match.group(0) if value in _RESERVED else bytes((value,))


def percent_decode(raw: str, *, keep_reserved: bool = False) -> str:
    """Decodes %XX escapes in `raw`; malformed escapes stay as they are.

    raw: text as received, one character per byte.
    keep_reserved: leave escaped reserved characters (such as %2F) escaped.
    Raises ValueError when the decoded bytes are not UTF-8.
    """
    if "%" not in raw and raw.isascii():
        return raw
    try:
        data = raw.encode("latin-1")
    except UnicodeEncodeError:  # not from the wire: already text
        data = raw.encode("utf-8")
    decoded = _ESCAPE.sub(_decode_unreserved if keep_reserved else _decode_all, data)
    return decoded.decode("utf-8")
