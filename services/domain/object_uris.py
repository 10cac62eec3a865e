"""What an object URI of the platform's store may be, and what an artifact is: one rule, one place.

Every object lives in one bucket and is named `s3://<bucket>/<key>`. A key
is segments of letters, digits and `. _ = ^ -` joined by single slashes:
no empty segment, no `.` or `..` step, nothing percent-encoded, no
backslash, no control or non-ASCII character, no query. So a key can be
compared, logged and handed to S3 as it is, with no decoding that could
turn it into another key.

Artifacts (a run's equity curve and trade list) are Parquet objects under
`artifacts/`: a run's own files
`artifacts/<backtest id>/<job id>/<attempt>/<name>.parquet` (files written
before jobs had keys of their own, `artifacts/<backtest id>/<name>.parquet`,
are still read), or a part of a batch file
`artifacts/jobs/<job id>/<attempt>/<name>.parquet`
addressed with the run's id as fragment (`...#<backtest id>`; see
services/adapters/batch_parquet.py). Nothing else is an artifact: market
data and other objects of the bucket can never be served as results, which
is why a PATCHed URI, a reported URI and a URI read back by the results
service all go through `parse_artifact_uri`.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from services.domain.errors import ValidationError

SCHEME = "s3://"
ARTIFACT_PREFIX = "artifacts/"
ARTIFACT_SUFFIX = ".parquet"
MAX_URI_LENGTH = 1024  # S3 keys stop at 1024 bytes; a longer URI names nothing
_SEGMENT = re.compile(r"[A-Za-z0-9._=^-]+")


@dataclass(frozen=True)
class ArtifactRef:
    """Where an artifact's bytes are.

    key: object key of the file.
    run_id: the run whose part of a batch file is meant; None for a file of its own.
    """

    key: str
    run_id: str | None = None


def is_object_key(key: str) -> bool:
    """Whether `key` is a key of the grammar above."""
    segments = key.split("/")
    return all(_SEGMENT.fullmatch(s) is not None and s not in (".", "..") for s in segments)


def object_uri(bucket: str, key: str) -> str:
    """The URI of `key` in `bucket`."""
    return f"{SCHEME}{bucket}/{key}"


def parse_object_uri(uri: object, bucket: str, *, field: str = "uri") -> str:
    """The key of an object URI inside `bucket`; a ValidationError naming `field` otherwise.

    uri: the URI as received.
    bucket: the platform's bucket.
    field: dotted path of the URI in the request.
    """
    prefix = object_uri(bucket, "")
    if not isinstance(uri, str) or len(uri) > MAX_URI_LENGTH or not uri.startswith(prefix):
        raise ValidationError.single(field, f"must be an object URI inside the platform's store ({prefix}...)")
    key = uri[len(prefix) :]
    if not key or not is_object_key(key):
        raise ValidationError.single(
            field, "must name an object key of letters, digits and . _ = ^ - between single slashes"
        )
    return key


def parse_artifact_uri(uri: object, bucket: str, *, field: str = "uri") -> ArtifactRef:
    """The artifact a URI names; a ValidationError naming `field` for anything that is not an artifact.

    uri: the URI as received (PATCHed, reported by an executor, or stored on a backtest).
    bucket: the platform's bucket.
    field: dotted path of the URI in the request, e.g. "equity_curve_uri".
    """
    where = f"must be a Parquet artifact URI ({object_uri(bucket, ARTIFACT_PREFIX)}...{ARTIFACT_SUFFIX})"
    if not isinstance(uri, str):
        raise ValidationError.single(field, where)
    file_uri, hash_mark, fragment = uri.partition("#")
    run_id = None
    if hash_mark:
        run_id = _canonical_uuid(fragment)
        if run_id is None:
            raise ValidationError.single(field, "a fragment may only name a run of a batch file by its UUID")
    key = parse_object_uri(file_uri, bucket, field=field)
    if not key.startswith(ARTIFACT_PREFIX) or not key.endswith(ARTIFACT_SUFFIX):
        raise ValidationError.single(field, where)
    return ArtifactRef(key=key, run_id=run_id)


def artifact_uri(bucket: str, ref: ArtifactRef) -> str:
    """The URI `parse_artifact_uri` reads back as `ref`."""
    uri = object_uri(bucket, ref.key)
    return f"{uri}#{ref.run_id}" if ref.run_id is not None else uri


def run_artifact_key(backtest_id: str, job_id: str, attempt: int, name: str) -> str:
    """Key of a run's own artifact file `name` ("equity" or "trades"), written by one attempt of one job.

    Each job attempt has files of its own: a job still computing after its run was revoked and
    executed again (or redelivered) writes beside the new job's files, never over them.
    """
    return f"{run_artifact_prefix(backtest_id)}{job_id}/{attempt}/{name}{ARTIFACT_SUFFIX}"


def run_artifact_prefix(backtest_id: str) -> str:
    """The prefix under which every own artifact file of a run lies, whichever job wrote it."""
    return f"{ARTIFACT_PREFIX}{backtest_id}/"


def batch_artifact_key(job_id: str, attempt: int, name: str) -> str:
    """Key of a batch file: one per job attempt, so a redelivery never overwrites a file runs point into."""
    return f"{ARTIFACT_PREFIX}jobs/{job_id}/{attempt}/{name}{ARTIFACT_SUFFIX}"


def _canonical_uuid(text: str) -> str | None:
    """`text` when it is a UUID written the canonical way (lowercase, hyphenated); otherwise None."""
    try:
        return text if str(uuid.UUID(text)) == text else None
    except ValueError:
        return None
