"""Reading a UUID a client sent: ASCII hex only, so one id has no look-alike spellings.

`uuid.UUID` parses its hex with `int(..., 16)`, which also reads every
Unicode decimal digit (full-width `０`, Arabic-Indic `٠`), so an id with a
look-alike digit named the real record and could read, patch or delete it.
Every id from a request goes through `parse_uuid`.
"""

from __future__ import annotations

import uuid


def parse_uuid(raw: object) -> uuid.UUID:
    """The UUID `raw` spells; ValueError unless it is a UUID object or ASCII text `uuid.UUID` accepts.

    raw: the value as received (usually a string).
    """
    if isinstance(raw, uuid.UUID):
        return raw
    if not isinstance(raw, str) or not raw.isascii():
        raise ValueError(f"not a UUID: {raw!r}")
    return uuid.UUID(raw)
