"""One module per REST resource: each class wraps the endpoints under one path and converts wire <-> user types.

To add a resource (grid search, stored bars, ...): write
`resources/<name>.py` with a class taking the `Transport` (subclass
`Resource`), its methods calling `self._transport` and converting with a
`from_wire` of a type in `models`; then add one attribute in
`Client.__init__`. Nothing else changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from backtest_client._transport import Transport

if TYPE_CHECKING:
    from backtest_client.client import Client


class Resource:
    """Base of the resource classes: the transport, and the client for handles that call back into it."""

    def __init__(self, transport: Transport, client: Client) -> None:
        self._transport = transport
        self._client = client
