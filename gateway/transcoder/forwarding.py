"""Serves one HTTP request: edge filters, route, bind, call the upstream, answer as Envoy would.

Unary responses are buffered whole, as Envoy does; streams are written as
they arrive (see response_rendering). Calls of GET routes are retried twice
on UNAVAILABLE before any response, like envoy.yaml's retry_policy.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from typing import TypeVar

import grpc
from google.protobuf import message

from gateway.transcoder.descriptors import DescriptorSet
from gateway.transcoder.edge_filters import (
    API_KEY_CHALLENGE,
    API_KEY_REJECTION,
    HEALTH_PATH,
    ApiKeys,
    has_underscore_header,
    normalize_path,
)
from gateway.transcoder.errors import JsonPrintError, LocalReply
from gateway.transcoder.exchange import Exchange, Limits, Outcome
from gateway.transcoder.json_printing import JsonPrinter
from gateway.transcoder.metadata import Headers, grpc_status_headers, request_metadata, response_headers
from gateway.transcoder.print_options import PrintOptions
from gateway.transcoder.request_binding import RequestBinder
from gateway.transcoder.response_rendering import (
    DETAILS_KEY,
    JSON,
    StatusRenderer,
    local_reply_body,
    stream_http_body,
    stream_json_array,
)
from gateway.transcoder.routes import Route, RouteTable
from gateway.transcoder.static_pages import StaticPages
from gateway.transcoder.status_mapping import NO_CONTENT, apply_http_code, http_status_for
from gateway.transcoder.upstreams import Upstreams

T = TypeVar("T")
_RESPONSE_TOO_LARGE = (
    "Response not transcoded because the transcoder's internal buffer size exceeds the configured limit."
)
_RETRIES = 2
_RETRY_BASE_S, _RETRY_MAX_S = 0.1, 1.0


class Forwarder:
    """Turns HTTP requests into gRPC calls for one route table.

    descriptors: the loaded descriptor set.
    routes: the served routes.
    upstreams: channels to the services behind the routes.
    limits: body sizes and the call deadline.
    print_options: Envoy's print options for JSON responses and error bodies.
    api_keys: the API key check in front of everything but /healthz and the pages.
    pages: /openapi.json and /docs, served as files.
    """

    def __init__(
        self,
        descriptors: DescriptorSet,
        routes: RouteTable,
        upstreams: Upstreams,
        limits: Limits,
        print_options: PrintOptions,
        api_keys: ApiKeys,
        pages: StaticPages,
    ) -> None:
        self._routes = routes
        self._pages = pages
        self._limits = limits
        self._api_keys = api_keys
        self._binder = RequestBinder(descriptors)
        self._printer = JsonPrinter(descriptors, print_options)
        self._statuses = StatusRenderer(descriptors, self._printer)
        self._calls: dict[str, Callable] = {}
        for route in routes.routes:
            make = upstreams.server_stream if route.server_streaming else upstreams.unary
            self._calls[route.grpc_path] = make(route)
            self._printer.prepare(route.response_class.DESCRIPTOR)
        self.draining = False

    def handle(self, exchange: Exchange) -> Outcome:
        """Answers one request."""
        if exchange.target == HEALTH_PATH:
            status = 503 if self.draining else 200
            exchange.respond(status, [], b"")
            return Outcome(status)
        headers = exchange.header_items()
        if has_underscore_header(headers):
            return self._local(exchange, LocalReply(400, "header names with underscores are rejected"))
        path, _, query = exchange.target.partition("?")
        path = normalize_path(path)
        page = self._pages.get(exchange.method, path)
        if page is not None:  # envoy.yaml's direct responses: before the key check and the transcoder
            exchange.respond(200, [("content-type", page[0])], page[1])
            return Outcome(200)
        if not self._api_keys.admits(exchange.header):
            exchange.respond(401, [("content-type", JSON), API_KEY_CHALLENGE], API_KEY_REJECTION)
            return Outcome(401)
        try:
            matched = self._routes.match(exchange.method, path)
            if matched is None:
                # reject_unknown_method: an unmapped path or method is Envoy's NOT_FOUND.
                raise LocalReply(404, f"Could not resolve {path} to a method.")
            route, bindings = matched
            bindings += self._binder.query_bindings(route, query)
            limit = self._limits.upload_bytes if route.http_body_request else self._limits.request_body_bytes
            body = exchange.read_body(limit)
            request = self._binder.build(route, bindings, body, exchange.header("content-type"))
        except LocalReply as reply:
            return self._local(exchange, reply)
        except ValueError as exc:  # a path variable that is not UTF-8
            return self._local(exchange, LocalReply(400, str(exc)))
        request_id = exchange.header("x-request-id") or str(uuid.uuid4())
        metadata = request_metadata(
            self._api_keys.forwarded(headers),
            method=exchange.method,
            target=path + ("?" + query if query else ""),
            client=exchange.client,
            request_id=request_id,
        )
        call = self._stream if route.server_streaming else self._unary
        outcome = call(exchange, route, request.SerializeToString(), metadata)
        outcome.rpc, outcome.request_id = route.grpc_path, request_id
        return outcome

    def _local(self, exchange: Exchange, reply: LocalReply) -> Outcome:
        exchange.respond(reply.status, [("content-type", JSON)], local_reply_body(reply.status, reply.message))
        return Outcome(reply.status)

    def _retrying(self, route: Route, attempt: Callable[[], T]) -> T:
        # envoy.yaml retries GET routes on UNAVAILABLE (no connection, draining service).
        for tries in range(_RETRIES + 1):
            try:
                return attempt()
            except grpc.RpcError as err:
                if route.http_method != "GET" or err.code() != grpc.StatusCode.UNAVAILABLE or tries == _RETRIES:
                    raise
                time.sleep(random.uniform(0, min(_RETRY_MAX_S, _RETRY_BASE_S * (2 ** (tries + 1) - 1))))
        raise AssertionError("unreachable")

    def _send(self, exchange: Exchange, status: int, headers: Headers, content_type: str, body: bytes) -> None:
        if status == NO_CONTENT:
            # The Lua filter empties a 204 and drops its content-length and content-type.
            exchange.respond(status, headers, None)
            return
        if content_type:
            headers.append(("content-type", content_type))
        exchange.respond(status, headers, body)

    def _send_error(self, exchange: Exchange, err: grpc.RpcError) -> Outcome:
        code = err.code().value[0]
        text = err.details() or ""
        initial = err.initial_metadata()
        details = next((value for key, value in err.trailing_metadata() or () if key == DETAILS_KEY), None)
        status = apply_http_code(http_status_for(code), initial)
        headers = response_headers(initial)
        body = self._statuses.body(code, text, details)
        if body is None:
            # Envoy could not print the status (a type missing from the descriptor set): no body.
            self._send(exchange, status, headers + grpc_status_headers(code, text), "", b"")
        else:
            self._send(exchange, status, headers, JSON, body)
        return Outcome(status, grpc_status=code)

    def _decode(self, route: Route, raw: bytes, *, bounded: bool = True) -> message.Message:
        # Envoy buffers what it transcodes to JSON, hence the bound; raw HttpBody streams pass unbuffered.
        if bounded and len(raw) > self._limits.response_body_bytes:
            raise LocalReply(500, _RESPONSE_TOO_LARGE)
        try:
            return route.response_class.FromString(raw)
        except message.DecodeError as exc:
            raise LocalReply(502, f"Cannot parse the upstream response: {exc}") from None

    def _json(self, route: Route, raw: bytes) -> bytes:
        try:
            return self._printer.dumps(self._decode(route, raw)).encode()
        except JsonPrintError as exc:
            raise LocalReply(502, f"Cannot transcode the upstream response: {exc}") from None

    def _unary(self, exchange: Exchange, route: Route, payload: bytes, metadata) -> Outcome:
        call = self._calls[route.grpc_path]
        timeout = self._limits.upstream_timeout_s
        try:
            raw, rendezvous = self._retrying(route, lambda: call.with_call(payload, timeout=timeout, metadata=metadata))
        except grpc.RpcError as err:
            return self._send_error(exchange, err)
        initial = rendezvous.initial_metadata()
        try:
            if route.http_body_response:
                reply = self._decode(route, raw)
                body, content_type = reply.data, reply.content_type
            else:
                body, content_type = self._json(route, raw), JSON
        except LocalReply as reply:
            return self._local(exchange, reply)
        status = apply_http_code(200, initial)
        self._send(exchange, status, response_headers(initial) + grpc_status_headers(0, ""), content_type, body)
        return Outcome(status, grpc_status=0)

    def _stream(self, exchange: Exchange, route: Route, payload: bytes, metadata) -> Outcome:
        # Downloads and watches run as long as they take, like envoy.yaml's `timeout: 0s` for them.
        timeout = None if route.http_body_response or route.long_lived else self._limits.upstream_timeout_s

        def first_message():
            call = self._calls[route.grpc_path](payload, timeout=timeout, metadata=metadata)
            first = next(call, None)
            while route.http_body_response and first == b"":
                first = next(call, None)  # Envoy skips empty frames before the first body
            return call, first

        try:
            call, first = self._retrying(route, first_message)
        except grpc.RpcError as err:
            return self._send_error(exchange, err)
        initial = call.initial_metadata()
        status = apply_http_code(200, initial)
        headers = response_headers(initial)
        try:
            if status == NO_CONTENT:
                call.cancel()
                self._send(exchange, status, headers, "", b"")
            elif route.http_body_response:
                parse = lambda raw: self._decode(route, raw, bounded=False)  # noqa: E731
                first_body = None if first is None else parse(first)
                stream_http_body(exchange, status, headers, first_body, call, parse, route.grpc_path)
            else:
                render = lambda raw: self._json(route, raw)  # noqa: E731
                stream_json_array(exchange, status, headers, first, call, render, route.grpc_path)
        except LocalReply as reply:
            call.cancel()
            if not exchange.started:
                return self._local(exchange, reply)
            exchange.abort()  # Envoy resets a stream it cannot transcode after the head
        except OSError:
            call.cancel()  # the client went away: stop the upstream too
            exchange.abort()
            return Outcome(status)
        return Outcome(status, grpc_status=call.code().value[0] if call.done() else None)
