"""Client-streaming google.api.HttpBody methods: the body goes up in pieces as it arrives, as Envoy sends it.

The first message carries the path and query bindings, the content type and
the first piece; each later message only its piece. No body limit applies
(the test gateway's upload limit is 1 MiB), and a body that breaks off
cancels the upstream call instead of ending it as if the file were whole.
"""

from __future__ import annotations

import hashlib
import socket
import time

from gateway.transcoder.forwarding import UPLOAD_PIECE_BYTES


def test_a_body_over_the_upload_limit_streams_up_in_pieces(client, upstream) -> None:
    data = bytes(range(256)) * (3 * 4096 + 7)  # 3 MiB and a bit: over the 1 MiB limit of unary uploads
    reply = client.request("POST", "/v1/blobs/big.csv?overwrite=true", data, {"content-type": "text/csv"})
    assert reply.status == 200, reply.body
    assert reply.json() == {
        "name": "big.csv",
        "content_type": "text/csv",
        "size": str(len(data)),
        "sha256": hashlib.sha256(data).hexdigest(),
        "overwrite": True,
    }
    seen, live = upstream.servicer.streamed["big.csv"]
    assert live
    assert seen[0][:2] == ("big.csv", "text/csv")
    assert all(name == "" and kind == "" for name, kind, _ in seen[1:])  # later pieces: bytes only
    assert [size for _, _, size in seen] == [UPLOAD_PIECE_BYTES] * 3 + [len(data) - 3 * UPLOAD_PIECE_BYTES]


def test_a_chunked_body_is_regrouped_into_pieces(gateway, upstream) -> None:
    data = b"0123456789abcdef" * 100_000  # 1.6 MB in irregular wire chunks
    cuts = [0, 1, 70_000, 1_100_000, 1_100_001, len(data)]
    wire = b"".join(b"%x\r\n%b\r\n" % (b - a, data[a:b]) for a, b in zip(cuts, cuts[1:], strict=False))
    head = b"POST /v1/blobs/chunked HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nTransfer-Encoding: chunked\r\n\r\n"
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        sock.sendall(head + wire + b"0\r\n\r\n")
        answer = _read_answer(sock)
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    assert hashlib.sha256(data).hexdigest().encode() in answer
    seen, _ = upstream.servicer.streamed["chunked"]
    assert [size for _, _, size in seen] == [UPLOAD_PIECE_BYTES, len(data) - UPLOAD_PIECE_BYTES]


def test_an_empty_body_is_one_message_with_the_bindings(client, upstream) -> None:
    reply = client.request("POST", "/v1/blobs/empty", b"", {"content-type": "text/csv"})
    assert reply.status == 200
    assert upstream.servicer.streamed["empty"][0] == [("empty", "text/csv", 0)]


def test_a_body_that_breaks_off_is_400_and_cancels_the_upstream_call(gateway, upstream, monkeypatch) -> None:
    # A call left live would still be live after 2 s; a cancelled one shows within milliseconds.
    monkeypatch.setattr(upstream.servicer, "settle_s", 2.0)
    declared, sent = 3 * UPLOAD_PIECE_BYTES, UPLOAD_PIECE_BYTES + 10
    head = f"POST /v1/blobs/broken HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: {declared}\r\n\r\n"
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        sock.sendall(head.encode() + b"x" * sent)
        sock.shutdown(socket.SHUT_WR)
        answer = _read_answer(sock)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert f"ended after {sent} of the {declared} bytes".encode() in answer
    deadline = time.monotonic() + 5
    while "broken" not in upstream.servicer.streamed and time.monotonic() < deadline:
        time.sleep(0.05)
    # Cancelled: the upstream never took the partial body for the whole file. A cancel that
    # reaches the server before its handler starts leaves no record at all, which is as good.
    seen, live = upstream.servicer.streamed.get("broken", ([], False))
    assert not live
    assert sum(size for _, _, size in seen) <= sent


def _read_answer(sock: socket.socket) -> bytes:
    parts = []
    while chunk := sock.recv(65536):
        parts.append(chunk)
        if b"\r\n\r\n" in b"".join(parts) and b"}" in chunk:
            break
    return b"".join(parts)
