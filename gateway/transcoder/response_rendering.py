"""What goes back to the HTTP client: error bodies, and streams written as they arrive.

Streams: messages become a chunked JSON array `[m1,m2]` (`[]` when empty);
google.api.HttpBody messages become raw chunks whose content type is the
first message's. The head waits for the first message (Envoy holds it for
HttpBody; for messages this keeps an early failure a proper error). After
that the status cannot change: like Envoy talking HTTP/1.1 without trailers,
a later failure just ends the body early, and is logged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator

import grpc
from google.protobuf import message

from gateway.transcoder.descriptors import DescriptorSet
from gateway.transcoder.errors import JsonPrintError
from gateway.transcoder.http_body_wire import http_body_data
from gateway.transcoder.json_printing import JsonPrinter
from gateway.transcoder.metadata import Headers
from gateway.transcoder.status_mapping import grpc_code_for_local_reply

log = logging.getLogger(__name__)

JSON = "application/json"
DETAILS_KEY = "grpc-status-details-bin"


def local_reply_body(status: int, text: str) -> bytes:
    """The JSON body of a reply the gateway makes itself: google.rpc.Status-shaped, like upstream errors."""
    return ('{"code":%d,"message":%s,"details":[]}' % (grpc_code_for_local_reply(status), json.dumps(text))).encode()


class StatusRenderer:
    """Prints failed calls as google.rpc.Status JSON, as convert_grpc_status does.

    descriptors: must hold google.rpc.Status and every detail type, or the body stays empty, as in Envoy.
    printer: prints with the same options as responses, as Envoy does.
    """

    def __init__(self, descriptors: DescriptorSet, printer: JsonPrinter) -> None:
        status_type = descriptors.find_message("google.rpc.Status")
        self._status_class = None if status_type is None else descriptors.message_class(status_type)
        self._printer = printer
        if status_type is not None:
            printer.prepare(status_type)

    def body(self, code: int, text: str, details: bytes | None) -> bytes | None:
        """The error body, or None when Envoy could not have printed one.

        code: the call's gRPC status code number.
        text: the call's grpc-message.
        details: the grpc-status-details-bin trailer (a serialized google.rpc.Status), if any.
        """
        if self._status_class is None:
            return None
        status = None
        if details:
            try:
                status = self._status_class.FromString(details)
            except message.DecodeError:
                status = None  # Envoy then falls back to grpc-status and grpc-message
        if status is None:
            status = self._status_class(code=code, message=text)
        try:
            return self._printer.dumps(status).encode()
        except JsonPrintError:
            return None


def stream_json_array(
    exchange, status: int, headers: Headers, first: bytes | None, rest: Iterator[bytes],
    render: Callable[[bytes], bytes], rpc: str,
) -> None:  # fmt: skip
    """Writes a stream of messages as one JSON array, a chunk per message.

    exchange: the HTTP exchange (see exchange.Exchange).
    status, headers: the response head.
    first: the first message (serialized), or None for an empty stream.
    rest: the call, yielding the remaining serialized messages.
    render: serialized message -> its JSON; may raise LocalReply.
    rpc: the call's path, for the log.
    """
    opening = b"[" + render(first) if first is not None else b"["  # before the head: may still fail cleanly
    exchange.start_stream(status, headers + [("content-type", JSON)])
    exchange.write(opening)
    separator = b"," if first is not None else b""
    try:
        for raw in rest:
            exchange.write(separator + render(raw))
            separator = b","
    except grpc.RpcError as err:
        _log_late_failure(rpc, err)
    exchange.write(b"]")
    exchange.end_stream()


def stream_http_body(
    exchange, status: int, headers: Headers, first: message.Message | None, rest: Iterator[bytes],
    parse: Callable[[bytes], message.Message], rpc: str,
) -> None:  # fmt: skip
    """Writes a stream of google.api.HttpBody as the raw bytes they carry.

    exchange: the HTTP exchange (see exchange.Exchange).
    status, headers: the response head (initial metadata such as content-disposition included).
    first: the first HttpBody, or None when the stream had none.
    rest: the call, yielding the remaining serialized HttpBody messages.
    parse: serialized bytes -> HttpBody; may raise LocalReply.
    rpc: the call's path, for the log.
    """
    if first is None:
        # No body at all: Envoy releases the headers it held, still saying JSON.
        exchange.start_stream(status, headers + [("content-type", JSON)])
        exchange.end_stream()
        return
    if first.content_type:
        headers = headers + [("content-type", first.content_type)]
    exchange.start_stream(status, headers)
    exchange.write(first.data)
    try:
        for raw in rest:
            # Read off the wire and written from the received bytes, not copied twice through a message.
            data = http_body_data(raw)
            exchange.write(parse(raw).data if data is None else data)
    except grpc.RpcError as err:
        _log_late_failure(rpc, err)
    exchange.end_stream()


def _log_late_failure(rpc: str, err: grpc.RpcError) -> None:
    log.warning(
        "stream failed after its first message; the HTTP/1.1 client only sees a short body",
        extra={"rpc": rpc, "grpc_status": err.code().value[0], "grpc_message": err.details()},
    )
