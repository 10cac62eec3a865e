"""The embedded servers do what the platform needs from them, through the clients it uses."""

from __future__ import annotations

import asyncio
import io
import json
import os
import time
from pathlib import Path

import nats
import psycopg
import pytest
import sqlalchemy
from minio import Minio
from minio.error import S3Error
from nats.js.api import RetentionPolicy
from nats.js.errors import KeyNotFoundError

from deploy.embedded.nats import start_nats
from deploy.embedded.ports import free_port
from deploy.embedded.postgres import start_postgres
from deploy.embedded.s3 import start_s3
from tests.fixtures.servers import Database, S3Bucket


def test_postgres_sql_round_trip(database: Database) -> None:
    with psycopg.connect(database.dsn) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        # Temporary: the session's database is the one the migration checks compare with the models.
        conn.execute("CREATE TEMP TABLE round_trip (id serial PRIMARY KEY, name text NOT NULL)")
        conn.execute("INSERT INTO round_trip (name) VALUES (%s), (%s)", ("first", "second"))
        rows = conn.execute("SELECT id, name FROM round_trip ORDER BY id").fetchall()
    assert rows == [(1, "first"), (2, "second")]


def test_database_url_works_with_sqlalchemy(database_url: str) -> None:
    # Services get exactly this URL as DATABASE_URL.
    assert database_url.startswith("postgresql+psycopg://")
    engine = sqlalchemy.create_engine(database_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sqlalchemy.text("SELECT current_database()")).scalar()
    finally:
        engine.dispose()


def test_jetstream_dedupes_by_message_id_and_delivers_once(nats_url: str, namespace: str) -> None:
    async def scenario() -> None:
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        stream, subject = f"{namespace}_JOBS", f"{namespace}.jobs"
        try:
            await js.add_stream(name=stream, subjects=[subject], retention=RetentionPolicy.WORK_QUEUE)
            first = await js.publish(subject, b"job-1", headers={"Nats-Msg-Id": "job-1"})
            again = await js.publish(subject, b"job-1", headers={"Nats-Msg-Id": "job-1"})
            assert not first.duplicate
            assert again.duplicate and again.seq == first.seq

            workers = await js.pull_subscribe(subject, durable=f"{namespace}_workers", stream=stream)
            [message] = await workers.fetch(1, timeout=5)
            assert message.data == b"job-1"
            assert message.headers and message.headers["Nats-Msg-Id"] == "job-1"
            await message.ack_sync()

            # Acked on a work queue: the stream is empty and nothing is pending.
            assert (await js.stream_info(stream)).state.messages == 0
            consumer = await js.consumer_info(stream, f"{namespace}_workers")
            assert consumer.num_pending == 0 and consumer.num_ack_pending == 0
        finally:
            await js.delete_stream(stream)
            await nc.close()

    asyncio.run(scenario())


def test_jetstream_kv_entries_expire_after_ttl(nats_url: str, namespace: str) -> None:
    async def scenario() -> None:
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        bucket = f"{namespace}_executors"
        try:
            kv = await js.create_key_value(bucket=bucket, ttl=1.0)
            await kv.put("executor-1", json.dumps({"engines": ["vectorbt"]}).encode())
            entry = await kv.get("executor-1")
            assert json.loads(entry.value or b"") == {"engines": ["vectorbt"]}

            deadline = time.monotonic() + 10
            while True:
                try:
                    await kv.get("executor-1")
                except KeyNotFoundError:
                    break
                assert time.monotonic() < deadline, "the entry outlived its TTL"
                await asyncio.sleep(0.2)
        finally:
            await js.delete_key_value(bucket)
            await nc.close()

    asyncio.run(scenario())


def test_s3_put_stat_streamed_get_list_remove(s3: S3Bucket) -> None:
    client = s3.client()
    data = os.urandom(6 * 1024 * 1024 + 17)  # over one 5 MiB part: a multipart upload
    client.put_object(s3.bucket, "runs/1/equity.parquet", io.BytesIO(data), len(data), part_size=5 * 1024 * 1024)
    client.put_object(s3.bucket, "runs/2/equity.parquet", io.BytesIO(b"small"), 5)

    assert client.stat_object(s3.bucket, "runs/1/equity.parquet").size == len(data)
    names = [o.object_name for o in client.list_objects(s3.bucket, prefix="runs/", recursive=True)]
    assert names == ["runs/1/equity.parquet", "runs/2/equity.parquet"]

    response = client.get_object(s3.bucket, "runs/1/equity.parquet")
    try:
        chunks = list(response.stream(64 * 1024))
    finally:
        response.close()
        response.release_conn()
    assert len(chunks) > 1 and max(map(len, chunks)) <= 64 * 1024
    assert b"".join(chunks) == data

    ranged = client.get_object(s3.bucket, "runs/1/equity.parquet", offset=1000, length=100)
    try:
        assert ranged.read() == data[1000:1100]
    finally:
        ranged.close()
        ranged.release_conn()

    client.remove_object(s3.bucket, "runs/1/equity.parquet")
    with pytest.raises(S3Error) as missing:
        client.stat_object(s3.bucket, "runs/1/equity.parquet")
    assert missing.value.code == "NoSuchKey"


def test_s3_rejects_unknown_keys(s3: S3Bucket) -> None:
    intruder = Minio(s3.endpoint, access_key=s3.access_key, secret_key="not-the-secret", secure=False)
    with pytest.raises(S3Error) as denied:
        intruder.list_buckets()
    assert denied.value.code == "SignatureDoesNotMatch"


def test_postgres_restart_keeps_data_and_survives_a_stale_pid_file(server_dir: Path) -> None:
    server = start_postgres(server_dir, durable=False)
    with psycopg.connect(server.dsn) as conn:
        conn.execute("CREATE TABLE kept (v int)")
        conn.execute("INSERT INTO kept VALUES (42)")
    server.stop()
    # A crash leaves postmaster.pid behind; after a reboot its pid may be anyone's.
    (server_dir / "pgdata" / "postmaster.pid").write_text("1\n")

    again = start_postgres(server_dir, durable=False)
    try:
        with psycopg.connect(again.dsn) as conn:
            assert conn.execute("SELECT v FROM kept").fetchall() == [(42,)]
    finally:
        again.stop()


def test_nats_restart_keeps_streams(server_dir: Path) -> None:
    async def publish(url: str) -> None:
        nc = await nats.connect(url)
        await nc.jetstream().add_stream(name="KEPT", subjects=["kept"])
        await nc.jetstream().publish("kept", b"still here")
        await nc.close()

    async def read(url: str) -> bytes:
        nc = await nats.connect(url)
        message = await nc.jetstream().get_msg("KEPT", 1)
        await nc.close()
        return message.data or b""

    server = start_nats(server_dir)
    asyncio.run(publish(server.url))
    server.stop()
    again = start_nats(server_dir)
    try:
        assert asyncio.run(read(again.url)) == b"still here"
    finally:
        again.stop()


def test_s3_restart_keeps_objects_and_keys(server_dir: Path) -> None:
    server = start_s3(server_dir, buckets=("kept",))
    server.client().put_object("kept", "obj", io.BytesIO(b"still here"), 10)
    server.stop()

    again = start_s3(server_dir, buckets=("kept",))
    try:
        assert again.credentials == server.credentials
        response = again.client().get_object("kept", "obj")
        try:
            assert response.read() == b"still here"
        finally:
            response.close()
            response.release_conn()
    finally:
        again.stop()


def test_postgres_moves_to_a_fresh_port_when_another_cluster_answers_on_its_own(
    server_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Regression: a test session's server took the port another session had
    # just chosen; the other session then talked to the wrong cluster. The
    # "other session" here is a cluster of this test's own on the chosen port.
    other = start_postgres(server_dir / "other", durable=False)
    try:
        ports = iter([other.port, free_port()])
        monkeypatch.setattr("deploy.embedded.postgres.free_port", lambda: next(ports))
        server = start_postgres(server_dir / "ours", durable=False)
        try:
            assert server.port != other.port
            with psycopg.connect(server.dsn) as conn:
                assert conn.execute("SHOW data_directory").fetchone() == (
                    str((server_dir / "ours").resolve() / "pgdata"),
                )
        finally:
            server.stop()
    finally:
        other.stop()
