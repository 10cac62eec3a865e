"""The artifact and market-data store: S3 (MinIO in production, SeaweedFS embedded).

Objects are named by URIs `s3://<bucket>/<key>`; which URIs name an object,
and which objects are artifacts, is the one rule of
`services.domain.object_uris`. The minio client is synchronous: asyncio
callers wrap calls in `asyncio.to_thread`.
"""

from __future__ import annotations

import inspect
import io
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from minio import Minio
from minio.deleteobjects import DeleteObject
from minio.error import S3Error

from services.domain.artifact_garbage import StoredObject
from services.domain.errors import NotFoundError
from services.domain.object_uris import ArtifactRef, object_uri, parse_artifact_uri, parse_object_uri

CHUNK_BYTES = 1024 * 1024  # streaming reads hand out 1 MiB at a time
# Media type of every Parquet object the platform stores or serves.
PARQUET_CONTENT_TYPE = "application/vnd.apache.parquet"


@dataclass(frozen=True)
class S3Location:
    """Where the store lives.

    endpoint: host:port of the S3 API.
    access_key: S3 access key id.
    secret_key: S3 secret key.
    bucket: bucket holding every object of the platform.
    secure: whether to speak HTTPS.
    """

    endpoint: str
    access_key: str
    secret_key: str
    bucket: str
    secure: bool = False

    @classmethod
    def of(cls, settings: Any) -> S3Location:
        """The store a service's S3 settings (services.kit.connection_settings.S3Settings) describe."""
        return cls(
            settings.s3_endpoint, settings.s3_access_key, settings.s3_secret_key, settings.s3_bucket, settings.s3_secure
        )


class _UnsignedPayloadMinio(Minio):
    """minio's client, sending every request body as UNSIGNED-PAYLOAD, over plain HTTP too.

    Over HTTPS minio-py does so itself. Over plain HTTP it hashes each body
    with SHA-256 before sending a byte, for the signature, on the path a sync
    execute waits for: 30 PUTs of 3.7 MB against `weed mini`, twice, took
    41.9 / 43.7 ms signed and 37.4 / 37.9 ms unsigned (medians), the client's
    CPU 5.6 / 5.4 ms and 2.1 / 2.1 ms, weed's about 1-2.7 ms less. The
    headers (method, key, length, date) stay signed; the body is then as
    protected as any plain-HTTP traffic, by TCP's checksum. A request that
    carries its own Content-MD5 (DeleteObjects) keeps it.
    """

    def _build_headers(self, host, headers=None, body=None, creds=None):
        if not body or creds is None or self._base_url.is_https:
            return super()._build_headers(host, headers, body, creds)
        built, date = super()._build_headers(host, headers, None, creds)
        built["Content-Length"] = str(len(body))
        built["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD"
        return built, date


# The override above leans on a private method; a minio-py that changed it gets the plain client.
_CLIENT = (
    _UnsignedPayloadMinio
    if tuple(inspect.signature(Minio._build_headers).parameters) == ("self", "host", "headers", "body", "creds")
    else Minio
)


class ObjectStore:
    """Reads and writes objects of one bucket, addressed by key or `s3://` URI."""

    def __init__(self, location: S3Location) -> None:
        self.location = location
        self.bucket = location.bucket
        self.client = _CLIENT(
            location.endpoint,
            access_key=location.access_key,
            secret_key=location.secret_key,
            secure=location.secure,
        )

    def ensure_bucket(self) -> None:
        """Creates the bucket when it does not exist yet."""
        if not self.client.bucket_exists(self.bucket):
            try:
                self.client.make_bucket(self.bucket)
            except S3Error as err:  # another process won the race
                if err.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise

    def uri(self, key: str) -> str:
        """The `s3://` URI of `key` in this store."""
        return object_uri(self.bucket, key)

    def key_of(self, uri: str, *, field: str = "uri") -> str:
        """The key `uri` names; a ValidationError naming `field` when it names no object of this store."""
        return parse_object_uri(uri, self.bucket, field=field)

    def artifact(self, uri: str, *, field: str = "uri") -> ArtifactRef:
        """The artifact `uri` names; a ValidationError naming `field` when it is not one of this store's."""
        return parse_artifact_uri(uri, self.bucket, field=field)

    def put_bytes(self, key: str, data: bytes, *, content_type: str = "application/octet-stream") -> str:
        """Stores `data` under `key` and returns its URI."""
        self.client.put_object(self.bucket, key, io.BytesIO(data), len(data), content_type=content_type)
        return self.uri(key)

    def put_file(self, key: str, path: str, *, content_type: str = "application/octet-stream") -> str:
        """Uploads the file at `path` (multipart for large files) and returns its URI."""
        self.client.fput_object(self.bucket, key, path, content_type=content_type)
        return self.uri(key)

    def size(self, key: str) -> int | None:
        """Size in bytes of `key`, or None when it does not exist."""
        try:
            return self.client.stat_object(self.bucket, key).size
        except S3Error as err:
            if err.code in ("NoSuchKey", "NoSuchObject", "NotFound"):
                return None
            raise

    def list_keys(self, prefix: str) -> list[tuple[str, int]]:
        """(key, size in bytes) of every object whose key starts with `prefix`, in key order."""
        objects = self.client.list_objects(self.bucket, prefix=prefix, recursive=True)
        return [(item.object_name, item.size or 0) for item in objects if not item.is_dir]

    def list_objects(self, prefix: str) -> list[StoredObject]:
        """Every object whose key starts with `prefix`, with its size and last-modified time, in key order."""
        objects = self.client.list_objects(self.bucket, prefix=prefix, recursive=True)
        return [
            StoredObject(item.object_name, item.size or 0, item.last_modified) for item in objects if not item.is_dir
        ]

    def remove_many(self, keys: list[str]) -> list[str]:
        """Deletes `keys` in batches; returns the keys the store refused to delete (missing ones are not refused)."""
        refused = self.client.remove_objects(self.bucket, (DeleteObject(key) for key in keys))
        return [error.name for error in refused]

    def get_bytes(self, key: str) -> bytes:
        """The whole object; NotFoundError when missing. Use `stream` for large ones."""
        return b"".join(self.stream(key))

    def stream(self, key: str, *, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
        """Yields the object in chunks without holding it whole; NotFoundError when missing."""
        try:
            response = self.client.get_object(self.bucket, key)
        except S3Error as err:
            if err.code in ("NoSuchKey", "NoSuchObject", "NotFound"):
                raise NotFoundError("object", self.uri(key)) from err
            raise
        try:
            yield from response.stream(chunk_bytes)
        finally:
            response.close()
            response.release_conn()

    def download(self, key: str, path: str) -> None:
        """Copies the object to a local file; NotFoundError when missing."""
        with open(path, "wb") as fh:
            for chunk in self.stream(key):
                fh.write(chunk)

    def remove(self, key: str) -> None:
        """Deletes `key`; deleting a missing key is not an error."""
        self.client.remove_object(self.bucket, key)


class LazyObjectStore:
    """An ObjectStore made, and its bucket created, on first use (blocking: call from a worker thread).

    A service then starts while the store is still coming up, and learns of an outage when it needs the store.
    location: where the store lives.
    """

    def __init__(self, location: S3Location) -> None:
        self.location = location
        self._store: ObjectStore | None = None
        self._lock = threading.Lock()

    def get(self) -> ObjectStore:
        """The store, its bucket ensured the first time."""
        with self._lock:
            if self._store is None:
                store = ObjectStore(self.location)
                store.ensure_bucket()
                self._store = store
            return self._store
