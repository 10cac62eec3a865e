"""The one artifact-URI rule, attacked: only Parquet artifacts of the platform's bucket get through."""

from __future__ import annotations

import pytest

from services.domain.errors import ValidationError
from services.domain.object_uris import (
    ArtifactRef,
    artifact_uri,
    batch_artifact_key,
    parse_artifact_uri,
    parse_object_uri,
    run_artifact_key,
)

BUCKET = "backtest-artifacts"
RUN = "5f0c2a9e-7b3d-4c1a-9e8f-2b6d4a1c0e7f"
BASE = f"s3://{BUCKET}/"


@pytest.mark.parametrize(
    "uri",
    [
        f"{BASE}artifacts/{RUN}/equity.parquet",
        f"{BASE}artifacts/{RUN}/trades.parquet",
        f"{BASE}artifacts/{RUN}/{RUN}/1/equity.parquet",
        f"{BASE}artifacts/jobs/{RUN}.3/2/equity.parquet#{RUN}",
    ],
)
def test_what_the_executor_writes_is_an_artifact(uri):
    ref = parse_artifact_uri(uri, BUCKET)
    assert artifact_uri(BUCKET, ref) == uri


def test_keys_built_by_the_layout_functions_read_back_as_written():
    own = ArtifactRef(run_artifact_key(RUN, RUN, 1, "equity"))
    batch = ArtifactRef(batch_artifact_key(f"{RUN}.0", 1, "trades"), RUN)
    for ref in (own, batch):
        assert parse_artifact_uri(artifact_uri(BUCKET, ref), BUCKET) == ref


@pytest.mark.parametrize(
    "uri",
    [
        # outside the artifact prefix: market data and anything else of the bucket
        f"{BASE}market-data/AAPL/1d.parquet",
        f"{BASE}t.parquet",
        f"{BASE}artifactsx/{RUN}/equity.parquet",
        # parent steps, plain and disguised
        f"{BASE}artifacts/../market-data/AAPL/1d.parquet",
        f"{BASE}artifacts/%2e%2e/market-data/AAPL/1d.parquet",
        f"{BASE}artifacts/%2E%2E/x.parquet",
        f"{BASE}artifacts/./x.parquet",
        f"{BASE}artifacts/x\\..\\..\\market-data\\AAPL\\1d.parquet",
        # empty segments
        f"{BASE}artifacts//x.parquet",
        f"s3://{BUCKET}//artifacts/x.parquet",
        f"{BASE}artifacts/x/",
        # other buckets and look-alike buckets
        f"s3://other-bucket/artifacts/{RUN}/equity.parquet",
        f"s3://{BUCKET}-evil/artifacts/{RUN}/equity.parquet",
        f"s3://{BUCKET}.evil.com/artifacts/x.parquet",
        f"s3://user@{BUCKET}/artifacts/x.parquet",
        # other schemes
        f"S3://{BUCKET}/artifacts/x.parquet",
        f"s3a://{BUCKET}/artifacts/x.parquet",
        f"https://{BUCKET}.s3.amazonaws.com/artifacts/x.parquet",
        "file:///etc/passwd",
        f"/{BUCKET}/artifacts/x.parquet",
        # control characters and non-ASCII look-alikes
        f"{BASE}artifacts/x\x00.parquet",
        f"{BASE}artifacts/x\n.parquet",
        f"{BASE}artifacts/x .parquet",
        f"{BASE}artifacts\u2215x.parquet",  # DIVISION SLASH
        f"{BASE}art\u0456facts/x.parquet",  # Cyrillic i
        f"{BASE}artifacts/x\uff0eparquet",  # FULLWIDTH FULL STOP
        # query and fragment tricks beyond the batch-run fragment
        f"{BASE}artifacts/x.parquet?versionId=1",
        f"{BASE}artifacts/x.parquet?#{RUN}",
        f"{BASE}artifacts/x.parquet#",
        f"{BASE}artifacts/x.parquet#../market-data/AAPL/1d.parquet",
        f"{BASE}artifacts/x.parquet#{RUN}#{RUN}",
        f"{BASE}artifacts/x.parquet#{RUN.upper()}",
        f"{BASE}market-data/AAPL/1d.parquet#{RUN}",
        # not Parquet, empty, too long, not a string
        f"{BASE}artifacts/{RUN}/equity.csv",
        f"{BASE}artifacts/",
        BASE,
        "",
        f"{BASE}artifacts/{'a' * 1100}.parquet",
        None,
        42,
    ],
)
def test_anything_else_is_refused_naming_the_field(uri):
    with pytest.raises(ValidationError) as caught:
        parse_artifact_uri(uri, BUCKET, field="equity_curve_uri")
    assert [v.field for v in caught.value.violations] == ["equity_curve_uri"]


def test_object_uris_in_general_follow_the_same_key_grammar():
    assert parse_object_uri(f"{BASE}market-data/^GSPC/1d.parquet", BUCKET) == "market-data/^GSPC/1d.parquet"
    assert parse_object_uri(f"{BASE}market-data/EURUSD=X/1h.parquet", BUCKET) == "market-data/EURUSD=X/1h.parquet"
    for bad in (f"{BASE}a/../b", f"{BASE}a//b", f"{BASE}a%2fb", f"s3://other/{BUCKET}/a"):
        with pytest.raises(ValidationError):
            parse_object_uri(bad, BUCKET)
