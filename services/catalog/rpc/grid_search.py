"""Grid search RPC, and the runs table of any finished search as Parquet."""

from __future__ import annotations

from google.api import httpbody_pb2
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backtest.v1 import catalog_pb2
from services.catalog import execution_convert, runs_table, signal_binding
from services.catalog.execution.grid_search import DEFAULT_TOP_N, MAX_TOP_N
from services.catalog.execution.service import ExecutionService
from services.domain.commands import parse_id
from services.domain.errors import ValidationError
from services.domain.grid_search import build_grid_search
from services.domain.parameter_space import parse_parameter_space
from services.domain.statuses import TaskStatus


class GridSearchMixin:
    """GridSearchBacktests, DownloadTaskRuns."""

    execution: ExecutionService
    sessions: async_sessionmaker[AsyncSession]

    async def GridSearchBacktests(
        self, request: catalog_pb2.GridSearchBacktestsRequest, context
    ) -> catalog_pb2.GridSearchBacktestsResponse:
        fields = execution_convert.grid_search_fields(request)
        top_n = fields.pop("top_n")
        if top_n is None:
            top_n = DEFAULT_TOP_N
        elif not 1 <= top_n <= MAX_TOP_N:
            raise ValidationError.single("top_n", f"must be 1 to {MAX_TOP_N}, got {top_n}")
        space, base = fields["parameter_space"], fields["base_config"]
        logic_values = space.get("signal_logic_id") if isinstance(space, dict) else None
        async with self.sessions() as session:
            logic = await signal_binding.logic_versions(
                session, signal_binding.logic_ids(base, [{"signal_logic_id": v} for v in _listed(logic_values)])
            )
        keys = {source.get("signal_plugin_key") or "expression" for source in (base,) if isinstance(source, dict)}
        if isinstance(space, dict):
            keys |= {str(v) for v in _listed(space.get("signal_plugin_key"))}
        plugins = await self.execution.plugins_for(keys)
        search = build_grid_search(**fields, bind=signal_binding.binder(logic), plugins=plugins)
        grid = parse_parameter_space(space, base)
        expanded = {dimension.key: list(dimension.values) for dimension in grid.dimensions}
        task_id = await self.execution.grid_search(search, expanded, top_n=top_n, logic=logic)
        response = catalog_pb2.GridSearchBacktestsResponse(
            task_id=str(task_id),
            status=TaskStatus.PENDING,
            n_configs=len(search.runs),
            n_combinations=search.n_combinations,
            n_skipped=search.n_skipped,
        )
        response.skipped.update(search.skipped)
        return response

    async def DownloadTaskRuns(self, request: catalog_pb2.DownloadTaskRunsRequest, context):
        task_id = parse_id("task_id", request.task_id)
        pieces = await runs_table.stream_runs_table(self.sessions, task_id)
        await context.send_initial_metadata((("content-disposition", runs_table.content_disposition(task_id)),))
        async for data in pieces:
            if data:
                yield httpbody_pb2.HttpBody(content_type=runs_table.MEDIA_TYPE, data=data)


def _listed(values: object) -> list:
    return values if isinstance(values, list) else []
