"""Wires the transcoder together: descriptor set, routes, upstream channels, HTTP server."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

from gateway.transcoder.descriptors import DescriptorSet
from gateway.transcoder.edge_filters import ApiKeys
from gateway.transcoder.forwarding import Forwarder, Limits
from gateway.transcoder.http_server import TranscodingServer
from gateway.transcoder.print_options import DEFAULT_PATH as DEFAULT_PRINT_OPTIONS
from gateway.transcoder.print_options import load_print_options
from gateway.transcoder.route_building import build_route_table
from gateway.transcoder.routes import RouteTable
from gateway.transcoder.settings import MIB, GatewaySettings
from gateway.transcoder.static_pages import StaticPages
from gateway.transcoder.upstreams import Upstreams

log = logging.getLogger(__name__)


class Gateway:
    """The local stand-in for Envoy's grpc_json_transcoder.

    Everything that can be wrong with the configuration (unreadable descriptor
    set, a listed service missing from it, a bad annotation) raises
    ConfigError here, before anything listens.

    descriptor_path: FileDescriptorSet with imports, as `make proto` writes it; the OpenAPI document
        and the docs page beside it (openapi.json, docs/) are served at /openapi.json and /docs.
    upstreams: full service name -> "host:port"; only these services are routed.
    host: interface to listen on.
    port: port to listen on; 0 picks a free one (read it from `port` after start).
    print_options_path: JSON file of Envoy's print_options (gateway/print_options.json).
    api_keys: accepted API keys; empty: no key needed (gateway/lua/api_key.lua's rule).
    upstream_timeout_s: deadline of every upstream call but HttpBody downloads.
    max_request_body_bytes: JSON request bodies above this get 413.
    max_upload_bytes: raw google.api.HttpBody request bodies of unary methods above this get 413 (client-streamed
        uploads go up in pieces, unbounded).
    max_response_body_bytes: unary responses above this get 500.
    idle_timeout_s: connections idle (or blocked writing) this long are closed.
    """

    def __init__(
        self,
        descriptor_path: str,
        upstreams: Mapping[str, str],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        print_options_path: str = DEFAULT_PRINT_OPTIONS,
        api_keys: Iterable[str] = (),
        upstream_timeout_s: float = 600.0,
        max_request_body_bytes: int = 8 * MIB,
        max_upload_bytes: int = 60 * MIB,
        max_response_body_bytes: int = 32 * MIB,
        idle_timeout_s: float = 300.0,
    ) -> None:
        descriptors = DescriptorSet(descriptor_path)
        print_options = load_print_options(print_options_path)
        self.routes: RouteTable = build_route_table(descriptors, upstreams)
        self._upstreams = Upstreams(upstreams)
        limits = Limits(max_request_body_bytes, max_upload_bytes, max_response_body_bytes, upstream_timeout_s)
        pages = StaticPages(Path(descriptor_path).resolve().parent)  # `make proto` writes them beside it
        self._forwarder = Forwarder(
            descriptors, self.routes, self._upstreams, limits, print_options, ApiKeys(api_keys), pages
        )
        self._address = (host, port)
        self._idle_timeout_s = idle_timeout_s
        self._server: TranscodingServer | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def from_settings(cls, settings: GatewaySettings) -> Gateway:
        """A gateway configured from the environment's settings."""
        return cls(
            settings.descriptor,
            settings.upstreams,
            host=settings.host,
            port=settings.port,
            print_options_path=settings.print_options,
            api_keys=settings.api_keys,
            upstream_timeout_s=settings.upstream_timeout_s,
            max_request_body_bytes=settings.max_request_body_bytes,
            max_upload_bytes=settings.max_upload_bytes,
            max_response_body_bytes=settings.max_response_body_bytes,
            idle_timeout_s=settings.idle_timeout_s,
        )

    @property
    def port(self) -> int:
        """The port listened on (the real one when 0 was asked for)."""
        if self._server is None:
            raise RuntimeError("gateway not started")
        return self._server.server_address[1]

    def start(self) -> None:
        """Binds and serves in a background thread; returns once listening."""
        self._server = TranscodingServer(self._address, self._forwarder, idle_timeout_s=self._idle_timeout_s)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, name="gateway-http", daemon=True
        )
        self._thread.start()
        log.info(
            "listening",
            extra={"host": self._address[0], "port": self.port, "routes": len(self.routes.routes)},
        )

    def stop(self) -> None:
        """Stops listening, closes open connections and the upstream channels."""
        self._forwarder.draining = True  # /healthz says 503 from now on
        if self._server is not None:
            self._server.shutdown()
            self._server.close_connections()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._upstreams.close()
        log.info("stopped")

    def __enter__(self) -> Gateway:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()
