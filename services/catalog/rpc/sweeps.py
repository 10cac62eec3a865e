"""Sweep RPC: one backtest per override dict, run on the fleet, ranked when done."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backtest.v1 import catalog_pb2
from services.catalog import execution_convert, signal_binding
from services.catalog.execution.service import ExecutionService
from services.domain.statuses import TaskStatus
from services.domain.sweep import DEFAULT_RANK_METRIC, build_sweep_runs


class SweepsMixin:
    """SweepBacktests."""

    execution: ExecutionService
    sessions: async_sessionmaker[AsyncSession]

    async def SweepBacktests(
        self, request: catalog_pb2.SweepBacktestsRequest, context
    ) -> catalog_pb2.SweepBacktestsResponse:
        fields = execution_convert.sweep_fields(request)
        async with self.sessions() as session:
            logic = await signal_binding.logic_versions(
                session, signal_binding.logic_ids(fields["base_config"], fields["param_grid"])
            )
        keys = {
            source.get("signal_plugin_key") or "expression"
            for source in (fields["base_config"], *fields["param_grid"])
            if isinstance(source, dict)
        }
        plugins = await self.execution.plugins_for(keys)
        runs = build_sweep_runs(**fields, bind=signal_binding.binder(logic), plugins=plugins)
        rank_metric = fields["rank_metric"] or DEFAULT_RANK_METRIC
        task_id = await self.execution.sweep(runs, fields["param_grid"], rank_metric=rank_metric, logic=logic)
        status = TaskStatus.PENDING
        return catalog_pb2.SweepBacktestsResponse(task_id=str(task_id), status=status, n_configs=len(runs))
