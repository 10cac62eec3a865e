"""The store's client signs request headers but sends bodies as UNSIGNED-PAYLOAD, over plain HTTP too."""

from __future__ import annotations

import hashlib

from minio.credentials import Credentials

from services.adapters.object_store import ObjectStore, S3Location, _UnsignedPayloadMinio

CREDS = Credentials("key", "secret")


def _client(secure: bool = False):
    store = ObjectStore(S3Location("127.0.0.1:9", "key", "secret", "bucket", secure=secure))
    assert isinstance(store.client, _UnsignedPayloadMinio)
    return store.client


def test_a_body_is_not_hashed_but_its_length_is_sent():
    headers, _ = _client()._build_headers("127.0.0.1:9", {"Content-Type": "x"}, b"abc" * 1000, CREDS)
    assert headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
    assert headers["Content-Length"] == "3000"
    assert headers["Content-Type"] == "x"
    assert "Content-MD5" not in headers


def test_a_request_without_a_body_is_built_as_minio_builds_it():
    headers, _ = _client()._build_headers("127.0.0.1:9", {}, None, CREDS)
    assert headers["x-amz-content-sha256"] == hashlib.sha256(b"").hexdigest()
    assert "Content-Length" not in headers


def test_a_content_md5_of_the_caller_is_kept():
    headers, _ = _client()._build_headers("127.0.0.1:9", {"Content-MD5": "given"}, b"<Delete/>", CREDS)
    assert headers["Content-MD5"] == "given"
    assert headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"


def test_https_is_left_to_minio():
    headers, _ = _client(secure=True)._build_headers("127.0.0.1:9", {}, b"abc", CREDS)
    assert headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
    assert "Content-MD5" in headers  # minio's own choice over HTTPS
