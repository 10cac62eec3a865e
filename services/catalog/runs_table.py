"""A finished search's runs as one Parquet file, streamed in flat memory.

One row per run in leaderboard order: `rank`, `backtest_id`, `status`,
`error`, one column per parameter (a grid search's parameter_space keys, a
sweep's override keys, named by the dotted key), then every stored metric
(services.domain.metrics.STORED, counts as int64) and
perf_deflated_sharpe_ratio. Memory stays flat in the number of runs: the
order comes from a columnar read (numbers only, services.catalog.execution.
grid_search.ranked_columns), then the rows are read CHUNK_ROWS at a time,
each chunk written as one row group and its bytes sent before the next is
read.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.adapters.chunk_sink import ChunkSink
from services.catalog.db.models import Backtest, Task
from services.catalog.execution.grid_search import is_grid, ranked_columns
from services.domain.deflated_sharpe import DEFLATED_SHARPE
from services.domain.errors import ConflictError, NotFoundError
from services.domain.metric_table import as_number
from services.domain.metrics import COUNTS, STORED
from services.domain.statuses import FINAL_TASK_STATUSES, RunStatus, TaskKind
from services.domain.sweep import LIFTED, override_value

CHUNK_ROWS = 1000
MEDIA_TYPE = "application/vnd.apache.parquet"
METRIC_COLUMNS = (*STORED, DEFLATED_SHARPE)
FIXED_COLUMNS = ("rank", "backtest_id", "status", "error")
_b = Backtest.__table__.c
_t = Task.__table__.c


def content_disposition(task_id: uuid.UUID) -> str:
    """The download's file name."""
    return f"attachment; filename=runs_{task_id}.parquet"


def _kind(values: Sequence[Any]) -> str:
    """One Arrow kind for a parameter's values: bool, int, float, string, or json (text of anything else)."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return "bool"
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        whole = all(isinstance(v, int) or (math.isfinite(v) and float(v).is_integer()) for v in present)
        return "int" if whole and any(isinstance(v, int) for v in present) else "float"
    if all(isinstance(v, str) for v in present):
        return "string"
    return "json"


_ARROW = {"bool": pa.bool_(), "int": pa.int64(), "float": pa.float64(), "string": pa.string(), "json": pa.string()}


def _cell(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "json":
        return json.dumps(value, sort_keys=True)
    return value


def schema(parameters: dict[str, str]) -> pa.Schema:
    """The table's schema for parameter columns of the given kinds (key -> kind)."""
    fields = [
        pa.field("rank", pa.int64()),
        pa.field("backtest_id", pa.string()),
        pa.field("status", pa.string()),
        pa.field("error", pa.string()),
    ]
    fields += [pa.field(key, _ARROW[kind]) for key, kind in parameters.items() if key not in FIXED_COLUMNS]
    fields += [pa.field(key, pa.int64() if key in COUNTS else pa.float64()) for key in METRIC_COLUMNS]
    return pa.schema(fields)


async def _finished_search(session: AsyncSession, task_id: uuid.UUID) -> dict[str, Any]:
    row = (await session.execute(select(_t.kind, _t.status, _t.params).where(_t.id == task_id))).one_or_none()
    if row is None:
        raise NotFoundError("task", str(task_id))
    if row.kind != TaskKind.SWEEP:
        raise ConflictError(f"task {task_id} is an execute task: only sweeps and grid searches have a runs table")
    # A cancelled (REVOKED) search's table holds what ran, and its revoked runs as such.
    if row.status not in FINAL_TASK_STATUSES:
        raise ConflictError(f"task {task_id} is {row.status}: its runs table is ready when it has finished")
    return row.params


def _parameters(params: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """(backtest ids in grid order, parameter key -> kind) of a sweep's or grid search's params."""
    if is_grid(params):
        space = params["parameter_space"]
        return params["backtest_ids"], {key: _kind(values) for key, values in space.items()}
    runs = params.get("runs", [])
    keys: dict[str, None] = {}
    for run in runs:
        keys |= dict.fromkeys(run["overrides"])
    kinds = {key: _kind([run["overrides"].get(key) for run in runs]) for key in keys}
    return [run["backtest_id"] for run in runs], kinds


async def stream_runs_table(sessions: async_sessionmaker[AsyncSession], task_id: uuid.UUID) -> AsyncIterator[bytes]:
    """The Parquet file of a finished search's runs, in pieces of about one row group.

    NotFoundError for an unknown task, ConflictError for an execute task or
    one still running (raised before the first piece).
    """
    async with sessions() as session:
        params = await _finished_search(session, task_id)
        ids, kinds = _parameters(params)
        columns = await ranked_columns(session, task_id, ids, params["rank_metric"], with_pbo=False)
    return _pieces(sessions, columns, kinds)


async def _pieces(
    sessions: async_sessionmaker[AsyncSession], columns: dict[str, Any], kinds: dict[str, str]
) -> AsyncIterator[bytes]:
    table_schema = schema(kinds)
    parameter_keys = [key for key in kinds if key not in FIXED_COLUMNS]
    sink = ChunkSink()
    writer = pq.ParquetWriter(sink, table_schema, compression="zstd")
    ids, order, deflated = columns["ids"], columns["order"], columns["deflated"]
    for lo in range(0, len(order), CHUNK_ROWS):
        chunk = [int(i) for i in order[lo : lo + CHUNK_ROWS]]
        wanted = [uuid.UUID(ids[i]) for i in chunk]
        statement = select(_b.id, _b.status, _b.error, _b.config, _b.metrics, *(_b[n] for n in LIFTED)).where(
            _b.id.in_(wanted)
        )
        async with sessions() as session:
            rows = {str(row.id): row for row in await session.execute(statement)}
        data: dict[str, list[Any]] = {name: [] for name in table_schema.names}
        for position, index in enumerate(chunk, start=lo + 1):
            row = rows.get(ids[index])
            if row is None:  # deleted since the order was read
                continue
            lifted = {name: getattr(row, name) for name in LIFTED}
            completed = row.status == RunStatus.COMPLETED
            metrics = {**row.metrics, DEFLATED_SHARPE: deflated[index]} if completed else {}
            data["rank"].append(position)
            data["backtest_id"].append(ids[index])
            data["status"].append(row.status)
            data["error"].append(row.error)
            for key in parameter_keys:
                data[key].append(_cell(kinds[key], override_value(row.config, lifted, key)))
            for key in METRIC_COLUMNS:
                value = as_number(metrics.get(key))
                data[key].append(None if value is None else int(value) if key in COUNTS else value)
        writer.write_table(pa.Table.from_pydict(data, schema=table_schema))
        yield sink.take()
    writer.close()
    yield sink.take()
