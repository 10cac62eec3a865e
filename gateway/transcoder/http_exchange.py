"""One HTTP/1.1 request and its response on a kept-alive connection (see exchange.Exchange).

Bodies are read with Content-Length or chunked encoding, up to a limit;
"100 Continue" is sent only when the body is wanted. A response is written
in one piece where possible: head and body together, a stream's head with its
first chunk. A body left unread closes the connection after the response.
"""

from __future__ import annotations

import email.utils
import http
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING

from gateway.transcoder.errors import LocalReply
from gateway.transcoder.metadata import Headers
from gateway.transcoder.status_mapping import with_retry_after

if TYPE_CHECKING:
    from http.server import BaseHTTPRequestHandler

MAX_LINE = 65536
_TOO_LARGE = "Request rejected because the transcoder's internal buffer size exceeds the configured limit."
# A streamed piece this large is sent gathered with its framing rather than copied into one buffer.
_GATHER_BYTES = 64 * 1024
_REASONS = {status.value: status.phrase for status in http.HTTPStatus} | {499: "Client Closed Request"}


class HttpExchange:
    """One request on a connection, offered to the Forwarder (see exchange.Exchange).

    handler: the connection's request handler, already past the request line and headers.
    """

    def __init__(self, handler: BaseHTTPRequestHandler) -> None:
        self._handler = handler
        self.method = handler.command
        self.target = _origin_form(handler.path)
        self.client = handler.client_address[0]
        self.started = False
        self._pending = b""  # a stream's head, sent with its first piece
        headers = handler.headers
        # Until read, a body (or an unknown one) on the wire forbids reusing the connection.
        self.body_consumed = not headers.get("transfer-encoding") and headers.get("content-length", "0").strip() == "0"
        self._chunked = handler.request_version != "HTTP/1.0"

    def header(self, name: str) -> str | None:
        """The request header `name`, or None."""
        return self._handler.headers.get(name)

    def header_items(self) -> list[tuple[str, str]]:
        """Every request header, in order."""
        return self._handler.headers.items()

    def read_body(self, limit: int) -> bytes:
        """The request body, up to `limit` bytes (see exchange.Exchange.read_body)."""
        headers = self._handler.headers
        encoding = headers.get("transfer-encoding")
        if encoding is not None:
            if encoding.strip().lower() != "chunked":
                raise LocalReply(400, f"unsupported transfer-encoding {encoding!r}")
            return self._read_chunked(limit)
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            raise LocalReply(400, "invalid content-length") from None
        if length > limit:
            raise LocalReply(413, _TOO_LARGE)
        if length <= 0:
            return b""
        self._send_continue()
        body = self._read_exactly(length, "content-length")
        self.body_consumed = True
        return body

    def body_pieces(self, piece_bytes: int) -> Iterator[bytes]:
        """The request body in pieces as it arrives (see exchange.Exchange.body_pieces)."""
        headers = self._handler.headers
        encoding = headers.get("transfer-encoding")
        if encoding is not None and encoding.strip().lower() != "chunked":
            raise LocalReply(400, f"unsupported transfer-encoding {encoding!r}")
        self._send_continue()
        if encoding is not None:
            yield from self._chunked_pieces(piece_bytes)
            return
        try:
            remaining = int(headers.get("content-length", "0"))
        except ValueError:
            raise LocalReply(400, "invalid content-length") from None
        total = remaining
        if remaining <= 0:
            yield b""
        while remaining > 0:
            piece = self._read_exactly(min(piece_bytes, remaining), "content-length", total - remaining, total)
            remaining -= len(piece)
            yield piece
        self.body_consumed = True

    def _chunked_pieces(self, piece_bytes: int) -> Iterator[bytes]:
        rfile, held, size_held, sent = self._handler.rfile, [], 0, False
        while True:
            size = self._chunk_size()
            if size == 0:
                break
            while size > 0:  # one wire chunk may be larger than a piece
                take = min(size, piece_bytes - size_held)
                held.append(self._read_exactly(take, "chunk size"))
                size_held, size = size_held + take, size - take
                if size_held >= piece_bytes:
                    yield b"".join(held)
                    held, size_held, sent = [], 0, True
            rfile.readline()
        self._end_chunked()
        if held or not sent:
            yield b"".join(held)

    def _read_exactly(self, length: int, declared_by: str, before: int = 0, total: int | None = None) -> bytes:
        # A body that ends early (the client half-closed) or stalls gets its own answer: a 4xx the
        # client can read, rather than a connection dropped with no status.
        try:
            data = self._handler.rfile.read(length)
        except TimeoutError:
            raise LocalReply(408, "request body not received in time") from None
        if len(data) < length:
            declared = length if total is None else total
            raise LocalReply(
                400, f"request body ended after {before + len(data)} of the {declared} bytes its {declared_by} declared"
            )
        return data

    def _read_chunked(self, limit: int) -> bytes:
        rfile = self._handler.rfile
        self._send_continue()
        pieces, total = [], 0
        while True:
            size = self._chunk_size()
            if size == 0:
                break
            total += size
            if total > limit:
                raise LocalReply(413, _TOO_LARGE)
            pieces.append(self._read_exactly(size, "chunk size"))
            rfile.readline()
        self._end_chunked()
        return b"".join(pieces)

    def _chunk_size(self) -> int:
        """Reads one chunk-size line of a chunked body; extensions after `;` are ignored."""
        line = self._handler.rfile.readline(MAX_LINE + 1)
        try:
            return int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise LocalReply(400, "malformed chunked body") from None

    def _end_chunked(self) -> None:
        """Reads past a chunked body's trailers (ignored) to its blank line: the body is consumed."""
        while self._handler.rfile.readline(MAX_LINE + 1) not in (b"\r\n", b"\n", b""):
            pass
        self.body_consumed = True

    def _send_continue(self) -> None:
        # 100-continue is sent only once the request is known to be wanted (see handle_expect_100).
        if self._handler.expect_continue:
            self._handler.expect_continue = False
            self._handler.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _head(self, status: int, headers: Headers, extra: list[str]) -> bytes:
        handler = self._handler
        if not self.body_consumed:
            handler.close_connection = True
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\n"]
        lines += [f"{name}: {value}\r\n" for name, value in with_retry_after(status, list(headers))]
        lines += extra
        lines.append(f"date: {email.utils.formatdate(usegmt=True)}\r\n")
        if handler.close_connection:
            lines.append("connection: close\r\n")
        elif handler.request_version == "HTTP/1.0":
            lines.append("connection: keep-alive\r\n")
        lines.append("\r\n")
        self.started = True
        return "".join(lines).encode("latin-1", "replace")

    def respond(self, status: int, headers: Headers, body: bytes | None) -> None:
        """Send a whole response: head and body in one write."""
        extra = [] if body is None else [f"content-length: {len(body)}\r\n"]
        head = self._head(status, headers, extra)
        self._handler.wfile.write(head + body if body else head)

    def start_stream(self, status: int, headers: Headers) -> None:
        """Begin a streamed response; its head goes out with the first piece."""
        if self._chunked:
            extra = ["transfer-encoding: chunked\r\n"]
        else:
            self._handler.close_connection = True  # HTTP/1.0: the body ends when the connection does
            extra = []
        self._pending = self._head(status, headers, extra)

    def write(self, data: bytes | memoryview) -> None:
        """Send one piece of a streamed response, as a chunk on HTTP/1.1."""
        if not data:
            return  # an empty chunk would end the body
        if len(data) >= _GATHER_BYTES:
            # A large piece goes out as it is, the chunk's framing around it, in one sendmsg: no copy.
            framing = (b"%x\r\n" % len(data), b"\r\n") if self._chunked else (b"", b"")
            _send_all(self._handler.connection, [self._pending + framing[0], data, framing[1]])
        else:
            piece = b"%x\r\n%b\r\n" % (len(data), data) if self._chunked else data
            self._handler.wfile.write(self._pending + piece if self._pending else piece)
        self._pending = b""

    def end_stream(self) -> None:
        """End a streamed response (the last chunk; on HTTP/1.0 the connection's close)."""
        self._handler.wfile.write(self._pending + b"0\r\n\r\n" if self._chunked else self._pending)
        self._pending = b""

    def abort(self) -> None:
        """Close the connection after this exchange: the response cannot be completed."""
        self._handler.close_connection = True


def _send_all(connection: socket.socket, parts: list) -> None:
    """Sends every byte of `parts` in order, gathered (sendmsg), resuming after partial sends."""
    views = [memoryview(part) for part in parts if part]
    while views:
        sent = connection.sendmsg(views)
        while sent:
            if sent >= len(views[0]):
                sent -= len(views.pop(0))
            else:
                views[0], sent = views[0][sent:], 0


def _origin_form(target: str) -> str:
    # A proxy-style absolute target (http://host/path) is served like its path.
    if target.startswith(("http://", "https://")):
        slash = target.find("/", target.find("//") + 2)
        return target[slash:] if slash >= 0 else "/"
    return target
