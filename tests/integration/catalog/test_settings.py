"""Catalog settings: every missing variable is named in one error; defaults and derived values."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.catalog.settings import CatalogSettings, DatabaseSettings
from services.kit.settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[3]
REQUIRED = {
    "DATABASE_URL": "postgresql+psycopg://catalog:secret@db:5432/catalog",
    "S3_BUCKET": "backtest-artifacts",
    "S3_ENDPOINT": "minio:9000",
    "S3_ACCESS_KEY": "access",
    "S3_SECRET_KEY": "s3cr3t",
    "NATS_URL": "nats://nats:4222",
}


def test_every_missing_variable_is_named_at_once():
    with pytest.raises(SettingsError) as caught:
        load_settings(CatalogSettings, {})
    for name in REQUIRED:
        assert name in str(caught.value)
    assert len(caught.value.problems) == len(REQUIRED)


def test_defaults():
    settings = load_settings(CatalogSettings, REQUIRED)
    assert settings.grpc_listen == "127.0.0.1:50051"
    assert settings.log_level == "INFO" and settings.s3_secure is False
    assert settings.sync_execute_timeout_s == 300.0
    assert settings.s3_bucket == "backtest-artifacts"


def test_credentials_stay_out_of_the_repr():
    text = repr(load_settings(CatalogSettings, REQUIRED))
    assert "s3cr3t" not in text and "secret@" not in text and "'access'" not in text


def test_malformed_values_are_named_with_the_missing_ones():
    environ = {"S3_BUCKET": "Not_A_Bucket", "GRPC_LISTEN": "50051", "LOG_LEVEL": "loud", "SYNC_EXECUTE_TIMEOUT_S": "0"}
    with pytest.raises(SettingsError) as caught:
        load_settings(CatalogSettings, environ)
    for name in ("S3_BUCKET", "GRPC_LISTEN", "LOG_LEVEL", "SYNC_EXECUTE_TIMEOUT_S", "DATABASE_URL", "NATS_URL"):
        assert name in str(caught.value)


def test_migrations_need_only_the_database():
    assert load_settings(DatabaseSettings, {"DATABASE_URL": "postgresql+psycopg://db/x"}).database_url.endswith("/x")


def test_the_process_refuses_to_start_naming_every_missing_variable():
    env = {k: v for k, v in os.environ.items() if k not in REQUIRED}
    done = subprocess.run(
        [sys.executable, "-m", "services.catalog"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert all(name in done.stderr for name in REQUIRED), done.stderr
