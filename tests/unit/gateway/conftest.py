"""A real gRPC server for the gateway's own test proto, and gateways in front of it.

The proto (protos/gwtest/v1/gwtest.proto) is compiled once per session with
grpc_tools into a temporary directory: Python modules for the test server and
a descriptor set (with imports, as `make proto` builds the platform's) for the
gateway. Nothing here depends on the platform's services.
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.client
import importlib
import json
import sys
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from types import ModuleType

import google.protobuf
import grpc
import grpc_tools
import pytest
from google.api import httpbody_pb2
from google.protobuf import any_pb2, empty_pb2, timestamp_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status
from grpc_tools import protoc

from gateway.transcoder import Gateway

PROTOS = Path(__file__).parent / "protos"
SERVICE = "gwtest.v1.WidgetService"


@dataclasses.dataclass(frozen=True)
class Compiled:
    """The compiled test proto.

    pb2, pb2_grpc: generated modules for the test server.
    descriptor: path of the descriptor set (with imports) for the gateway.
    """

    pb2: ModuleType
    pb2_grpc: ModuleType
    descriptor: str


def _include_dirs() -> list[str]:
    # google/api and google/rpc ship in googleapis-common-protos, google/protobuf in grpc_tools.
    site = Path(google.protobuf.__file__).parents[2]
    return [str(PROTOS), str(site), str(Path(grpc_tools.__file__).parent / "_proto")]


def _protoc(*args: str) -> None:
    includes = [f"-I{d}" for d in _include_dirs()]
    assert protoc.main(["protoc", *includes, *args]) == 0, args


@pytest.fixture(scope="session")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Compiled:
    out = tmp_path_factory.mktemp("gwtest")
    descriptor = out / "gwtest.binpb"
    # Status and its details go in the set, as buf puts them in the platform's.
    _protoc(
        "--include_imports",
        f"--descriptor_set_out={descriptor}",
        "gwtest/v1/gwtest.proto",
        "google/rpc/status.proto",
        "google/rpc/error_details.proto",
    )
    _protoc(f"--python_out={out}", f"--grpc_python_out={out}", "gwtest/v1/gwtest.proto")
    sys.path.insert(0, str(out))
    pb2 = importlib.import_module("gwtest.v1.gwtest_pb2")
    pb2_grpc = importlib.import_module("gwtest.v1.gwtest_pb2_grpc")
    return Compiled(pb2, pb2_grpc, str(descriptor))


def _abort_with(context: grpc.ServicerContext, code: int, message: str, *details) -> None:
    status = status_pb2.Status(code=code, message=message)
    for detail in details:
        packed = any_pb2.Any()
        if isinstance(detail, any_pb2.Any):
            packed = detail
        else:
            packed.Pack(detail)
        status.details.append(packed)
    context.abort_with_status(rpc_status.to_status(status))


class WidgetServicer:
    """The test service: echoes what it received; special inputs make it fail or stall."""

    def __init__(self, pb2: ModuleType) -> None:
        self.pb2 = pb2
        self.download_progress: dict[str, int] = {}
        self.release_stream = threading.Event()
        self.streamed: dict[str, tuple[list[tuple[str, str, int]], bool]] = {}
        # How long StreamBlob waits, after its requests end without an error, for a cancel that
        # may still be on its way before it records whether the call was live (0: not at all).
        self.settle_s = 0.0

    def GetWidget(self, request, context):
        widget_id = request.widget_id
        if widget_id.startswith("fail-"):
            code = grpc.StatusCode[widget_id[len("fail-") :]]
            context.abort(code, f"failed with {code.name}")
        if widget_id == "invalid":
            context.send_initial_metadata((("x-http-code", "422"),))
            violation = error_details_pb2.BadRequest.FieldViolation(field="display_name", description="is empty")
            bad_request = error_details_pb2.BadRequest(field_violations=[violation])
            _abort_with(context, code_pb2.INVALID_ARGUMENT, "widget is invalid", bad_request)
        if widget_id == "created-then-failed":
            context.send_initial_metadata((("x-http-code", "201"),))
            context.abort(grpc.StatusCode.NOT_FOUND, "gone")
        if widget_id == "unprintable":
            unknown = any_pb2.Any(type_url="type.googleapis.com/gwtest.v1.NotInTheDescriptorSet", value=b"\x08\x01")
            _abort_with(context, code_pb2.FAILED_PRECONDITION, "odd details", unknown)
        if widget_id == "slow":
            time.sleep(1.0)
        if widget_id == "big":
            return self.pb2.Widget(widget_id="big", display_name="x" * 300_000)
        widget = self.pb2.Widget(widget_id=widget_id)
        if request.HasField("location"):
            widget.location.CopyFrom(request.location)
        return widget

    def GetFeaturedWidget(self, request, context):
        return self.pb2.Widget(widget_id="featured", display_name="Featured")

    def CompareWidgets(self, request, context):
        return self.pb2.CompareWidgetsResponse(compared=len(request.widget_ids))

    def CreateWidget(self, request, context):
        context.send_initial_metadata((("x-http-code", "201"),))
        widget = self.pb2.Widget(
            widget_id="w-new",
            display_name=request.display_name,
            part_count=request.part_count,
            weight_grams=1234567890123,
            price=100000.0,
            ratio=0.1,
            tags=request.tags,
            created_at=timestamp_pb2.Timestamp(seconds=1704067200, nanos=500_000_000),
        )
        if request.HasField("attributes"):
            widget.attributes.CopyFrom(request.attributes)
        return widget

    def UpdateWidget(self, request, context):
        return self.pb2.Widget(widget_id=request.widget_id, display_name=request.display_name, tags=request.tags)

    def DeleteWidget(self, request, context):
        context.send_initial_metadata((("x-http-code", "204"),))
        return empty_pb2.Empty()

    def LabelWidget(self, request, context):
        widget = self.pb2.Widget(widget_id=request.widget_id, labels={request.label.key: request.label.value})
        if request.reason:
            widget.note = request.reason
        return widget

    def ArchiveWidget(self, request, context):
        return self.pb2.Widget(widget_id=request.widget_id, archived=True)

    def UploadBlob(self, request, context):
        return self.pb2.BlobSummary(
            name=request.name,
            content_type=request.file.content_type,
            size=len(request.file.data),
            sha256=hashlib.sha256(request.file.data).hexdigest(),
            overwrite=request.overwrite,
        )

    def StreamBlob(self, requests, context):
        # Records each message's (name, content type, size), and whether the call was still live at its end.
        digest, size, first, seen = hashlib.sha256(), 0, None, []
        try:
            for request in requests:
                first = first or request
                seen.append((request.name, request.file.content_type, len(request.file.data)))
                digest.update(request.file.data)
                size += len(request.file.data)
            # A cancelled stream can also end like a whole one when the server takes its end
            # before the cancel that follows it: the cancel then shows shortly after.
            deadline = time.monotonic() + self.settle_s
            while context.is_active() and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:  # a cancelled call usually ends the iteration with an error
            name = first.name if first is not None else ""
            self.streamed[name] = (seen, context.is_active())
        return self.pb2.BlobSummary(
            name=name,
            content_type=first.file.content_type if first is not None else "",
            size=size,
            sha256=digest.hexdigest(),
            overwrite=first is not None and first.overwrite,
        )

    def Search(self, request, context):
        return request

    def StreamWidgets(self, request, context):
        if request.send_headers:
            context.send_initial_metadata((("x-stream", "yes"),))
        for number in range(1, request.count + 2):
            if number == request.fail_before:
                context.abort(grpc.StatusCode.NOT_FOUND, f"no widget {number}")
            if number > request.count:
                return
            time.sleep(request.delay_ms / 1000)
            if number == 2 and request.hold_after_first:
                self.release_stream.wait(10)
            yield self.pb2.Widget(widget_id=f"w{number}", part_count=number)

    def DownloadBlob(self, request, context):
        context.send_initial_metadata((("content-disposition", f"attachment; filename={request.name}"),))
        if request.name == "missing":
            context.abort(grpc.StatusCode.NOT_FOUND, "no such blob")
        self.download_progress[request.name] = 0
        for number in range(1, request.chunks + 1):
            if number == request.fail_before:
                context.abort(grpc.StatusCode.INTERNAL, "disk error")
            data = bytes([number % 256]) * request.chunk_size
            yield httpbody_pb2.HttpBody(content_type="application/vnd.apache.parquet", data=data)
            self.download_progress[request.name] = number

    def Internal(self, request, context):
        return self.pb2.Widget(widget_id="internal")

    def EchoMetadata(self, request, context):
        metadata = {key: value for key, value in context.invocation_metadata() if isinstance(value, str)}
        return self.pb2.EchoMetadataResponse(path=request.path, metadata=metadata)


@dataclasses.dataclass
class Upstream:
    """The running test server.

    address: where it listens.
    servicer: its servicer, to inspect what it saw.
    """

    address: str
    servicer: WidgetServicer


@pytest.fixture(scope="session")
def upstream(compiled: Compiled) -> Iterator[Upstream]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32))
    servicer = WidgetServicer(compiled.pb2)
    compiled.pb2_grpc.add_WidgetServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield Upstream(f"127.0.0.1:{port}", servicer)
    server.stop(0)


# Small limits so the tests can cross them cheaply.
LIMITS = {"max_request_body_bytes": 4096, "max_upload_bytes": 1 << 20, "max_response_body_bytes": 256 << 10}


@pytest.fixture(scope="session")
def gateway(compiled: Compiled, upstream: Upstream) -> Iterator[Gateway]:
    with Gateway(compiled.descriptor, {SERVICE: upstream.address}, **LIMITS) as running:
        yield running


@dataclasses.dataclass
class Reply:
    """An HTTP response as the tests look at it.

    status: the status code.
    headers: header names lower-cased (last value wins).
    body: the (de-chunked) body.
    """

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        """The body parsed as JSON."""
        return json.loads(self.body)


class Client:
    """A keep-alive HTTP/1.1 client for one gateway.

    port: the gateway's port.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def request(self, method: str, path: str, body=None, headers: dict[str, str] | None = None) -> Reply:
        """Sends one request on the kept-alive connection and reads the whole answer."""
        self.connection.request(method, path, body=body, headers=headers or {})
        response = self.connection.getresponse()
        body = response.read()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, body)

    def close(self) -> None:
        """Closes the connection."""
        self.connection.close()


@pytest.fixture
def connect() -> Iterator:
    """Opens keep-alive clients to a gateway port; all are closed after the test."""
    opened: list[Client] = []

    def open_client(port: int) -> Client:
        opened.append(Client(port))
        return opened[-1]

    yield open_client
    for connection in opened:
        connection.close()


@pytest.fixture
def client(gateway: Gateway, connect) -> Client:
    """A keep-alive client of the shared gateway."""
    return connect(gateway.port)


@pytest.fixture
def make_gateway(compiled: Compiled) -> Iterator:
    """Starts extra gateways (other upstreams, limits or keys); all are stopped after the test."""
    started: list[Gateway] = []

    def start(upstreams: dict[str, str], **options) -> Gateway:
        started.append(Gateway(compiled.descriptor, upstreams, **options))
        started[-1].start()
        return started[-1]

    yield start
    for running in started:
        running.stop()
