"""Server streams: JSON arrays written as they come, HttpBody as raw chunked downloads."""

from __future__ import annotations

import socket
import time


def test_message_stream_is_a_chunked_json_array(client) -> None:
    reply = client.request("GET", "/v1/streams/widgets?count=3")
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json"
    assert reply.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in reply.headers
    assert reply.body.startswith(b'[{"widget_id":"w1",') and reply.body.endswith(b"}]")
    assert [w["part_count"] for w in reply.json()] == [1, 2, 3]


def test_empty_stream_is_an_empty_array(client) -> None:
    reply = client.request("GET", "/v1/streams/widgets?count=0")
    assert (reply.status, reply.body) == (200, b"[]")


def test_failure_before_the_first_message_is_a_proper_error(client) -> None:
    reply = client.request("GET", "/v1/streams/widgets?count=3&fail_before=1")
    assert reply.status == 404
    assert reply.json() == {"code": 5, "message": "no widget 1", "details": []}
    reply = client.request("GET", "/v1/streams/widgets?count=3&fail_before=1&send_headers=true")
    assert reply.status == 404


def test_failure_after_the_first_message_ends_the_array_early(client) -> None:
    # As Envoy over HTTP/1.1: the 200 is out, trailers are not forwarded, the array just ends.
    reply = client.request("GET", "/v1/streams/widgets?count=3&fail_before=3")
    assert reply.status == 200
    assert [w["widget_id"] for w in reply.json()] == ["w1", "w2"]
    assert client.request("GET", "/v1/widgets/after").status == 200


def test_initial_metadata_becomes_stream_headers(client) -> None:
    assert client.request("GET", "/v1/streams/widgets?count=1&send_headers=true").headers["x-stream"] == "yes"


def test_messages_are_written_as_they_arrive(gateway, upstream) -> None:
    upstream.servicer.release_stream.clear()
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        sock.sendall(b"GET /v1/streams/widgets?count=3&hold_after_first=true HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while b'"w1"' not in received:  # arrives while the service holds the rest back
            received += sock.recv(65536)
        assert b'[{"widget_id":"w1"' in received and b'"w2"' not in received
        upstream.servicer.release_stream.set()
        while not received.endswith(b"0\r\n\r\n"):
            received += sock.recv(65536)
    assert b'"w3"' in received


def test_http_body_stream_is_a_raw_chunked_download(client) -> None:
    reply = client.request("GET", "/v1/blobs/report.parquet/download?chunks=3&chunk_size=1000")
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/vnd.apache.parquet"
    assert reply.headers["content-disposition"] == "attachment; filename=report.parquet"
    assert reply.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in reply.headers
    assert reply.body == b"\x01" * 1000 + b"\x02" * 1000 + b"\x03" * 1000


def test_large_http_body_chunks_pass_through_intact(client, gateway) -> None:
    # Pieces of 64 KB and more are sent from the received bytes, gathered with their framing.
    reply = client.request("GET", "/v1/blobs/big.bin/download?chunks=3&chunk_size=300000")
    assert reply.status == 200 and reply.headers["transfer-encoding"] == "chunked"
    assert reply.body == b"\x01" * 300_000 + b"\x02" * 300_000 + b"\x03" * 300_000
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=5) as sock:  # HTTP/1.0: no chunking
        sock.sendall(b"GET /v1/blobs/big.bin/download?chunks=2&chunk_size=100000 HTTP/1.0\r\n\r\n")
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ") and b"transfer-encoding" not in head
    assert body == b"\x01" * 100_000 + b"\x02" * 100_000


def test_http_body_stream_failing_first_is_a_json_error(client) -> None:
    reply = client.request("GET", "/v1/blobs/missing/download?chunks=3&chunk_size=10")
    assert reply.status == 404
    assert reply.json() == {"code": 5, "message": "no such blob", "details": []}


def test_http_body_stream_failing_later_ends_the_body_early(client) -> None:
    reply = client.request("GET", "/v1/blobs/partial/download?chunks=3&chunk_size=10&fail_before=2")
    assert (reply.status, reply.body) == (200, b"\x01" * 10)


def test_http_body_stream_without_chunks_is_empty(client) -> None:
    reply = client.request("GET", "/v1/blobs/nothing/download?chunks=0")
    assert (reply.status, reply.body) == (200, b"")


def test_a_slow_download_neither_buffers_nor_blocks_other_requests(gateway, upstream, client) -> None:
    chunks = 64  # 64 MiB: far more than socket buffers and HTTP/2 windows hold
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=5) as slow:
        path = b"/v1/blobs/slow.bin/download?chunks=%d&chunk_size=1048576" % chunks
        slow.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path)
        assert slow.recv(1024).startswith(b"HTTP/1.1 200 ")
        started = time.monotonic()
        assert client.request("GET", "/v1/widgets/meanwhile").status == 200
        assert time.monotonic() - started < 5.0  # blocked, it would wait for the whole download
        time.sleep(0.5)
        # Back-pressure reached the service: it is stuck well before the end of the file.
        assert upstream.servicer.download_progress["slow.bin"] < chunks / 2
    # The client went away: the upstream stream gets cancelled rather than running on.
    time.sleep(0.3)
    assert upstream.servicer.download_progress["slow.bin"] < chunks


def test_http_1_0_clients_get_streams_without_chunking(gateway) -> None:
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=5) as sock:
        sock.sendall(b"GET /v1/streams/widgets?count=2 HTTP/1.0\r\n\r\n")
        received = b""
        while chunk := sock.recv(65536):  # the body ends when the gateway closes
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ") and b"transfer-encoding" not in head
    assert body.startswith(b'[{"widget_id":"w1"') and body.endswith(b"}]")
