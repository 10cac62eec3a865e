"""The HTTP/1.1 side: a threaded stdlib server with keep-alive, one thread per connection.

A thread per connection keeps the code synchronous (sync gRPC calls on the
shared channels) and means a slow client reading a long download only holds
its own thread. Responses are written in one piece where possible and Nagle
is off, so small keep-alive replies are not delayed.
"""

from __future__ import annotations

import http
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from gateway.transcoder.exchange import Outcome
from gateway.transcoder.forwarding import Forwarder
from gateway.transcoder.http_exchange import MAX_LINE, HttpExchange
from gateway.transcoder.response_rendering import JSON, local_reply_body

log = logging.getLogger(__name__)
access_log = logging.getLogger("gateway.access")

# Lingering close: how long, and how much, to read a body we answered without wanting.
_LINGER_S = 2.0
_LINGER_BYTES = 256 * 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: TranscodingServer

    def setup(self) -> None:
        self.timeout = self.server.idle_timeout_s
        self.expect_continue = False
        super().setup()

    def handle_expect_100(self) -> bool:
        # Defer "100 Continue" until the route and size are known; a 404 or 413 goes out instead.
        self.expect_continue = True
        return True

    def handle_one_request(self) -> None:
        try:
            self.raw_requestline = self.rfile.readline(MAX_LINE + 1)
        except OSError:
            self.close_connection = True
            return
        if len(self.raw_requestline) > MAX_LINE:
            self.send_error(http.HTTPStatus.REQUEST_URI_TOO_LONG, f"request line longer than {MAX_LINE} bytes")
            return
        if not self.raw_requestline:
            self.close_connection = True
            return
        self.expect_continue = False
        if not self.parse_request():  # it has answered a malformed request itself
            return
        exchange = HttpExchange(self)
        self._serve(exchange)
        if not exchange.body_consumed:
            self._linger()

    def _linger(self) -> None:
        # The answer (413, 404, ...) went out before the body was read. Closing now with
        # unread bytes would reset the connection and could destroy the answer before the
        # client reads it, so read and drop what it still sends for a while (as nginx does).
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(0.5)
            deadline, dropped = time.monotonic() + _LINGER_S, 0
            while time.monotonic() < deadline and dropped < _LINGER_BYTES:
                chunk = self.connection.recv(1 << 16)
                if not chunk:
                    return
                dropped += len(chunk)
        except OSError:
            pass

    def _serve(self, exchange: HttpExchange) -> None:
        started = time.perf_counter()
        outcome = Outcome(0)
        try:
            outcome = self.server.forwarder.handle(exchange)
        except OSError:
            self.close_connection = True  # the client went away
        except Exception:
            log.exception("unexpected error", extra={"method": exchange.method, "path": exchange.target})
            outcome = Outcome(500)
            if exchange.started:
                exchange.abort()
            else:
                self.close_connection = True
                exchange.respond(500, [("content-type", JSON)], local_reply_body(500, "internal gateway error"))
        # The keys of envoy.yaml's access log, so one pipeline reads both gateways.
        access_log.info(
            "request",
            extra={
                "method": exchange.method,
                "path": exchange.target,
                "status": outcome.status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                "rpc": outcome.rpc,
                "grpc_status": outcome.grpc_status,
                "request_id": outcome.request_id,
                "client": exchange.client,
            },
        )

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answers a request the stdlib could not parse (414, 431, 400, 505) as every local reply: JSON, then close.

        The stdlib's own page is HTML and logs through the request line, which a
        too-long line never set.
        """
        del explain  # the message says it all
        status = http.HTTPStatus(code)
        body = local_reply_body(code, message or status.phrase)
        self.close_connection = True
        head = (
            f"HTTP/1.1 {code} {status.phrase}\r\ncontent-type: {JSON}\r\ncontent-length: {len(body)}\r\n"
            "connection: close\r\n\r\n"
        )
        try:
            self.wfile.write(head.encode("latin-1") + body)
        except OSError:
            pass  # the client is gone
        access_log.info("request", extra={"status": code, "client": self.client_address[0], "rpc": None})

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the stdlib's signature
        log.debug(format % args)


class TranscodingServer(ThreadingHTTPServer):
    """The listening socket and its connection threads.

    address: (host, port); port 0 picks a free one.
    forwarder: serves each request.
    idle_timeout_s: a connection silent this long (or a write blocked this long) is closed.
    """

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], forwarder: Forwarder, *, idle_timeout_s: float) -> None:
        self.forwarder = forwarder
        self.idle_timeout_s = idle_timeout_s
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request, client_address) -> None:
        """Track the connection so that shutdown can close it, then serve it."""
        with self._lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:
        """Forget the connection, then close it."""
        with self._lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Shuts every open connection, so idle keep-alive threads end too."""
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
