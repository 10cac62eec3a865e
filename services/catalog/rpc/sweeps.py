"""Sweep RPC: one backtest per override dict, run on the fleet, ranked when done."""

from __future__ import annotations

from backtest.v1 import catalog_pb2
from services.catalog import execution_convert
from services.catalog.execution.service import ExecutionService
from services.domain.statuses import TaskStatus
from services.domain.sweep import DEFAULT_RANK_METRIC, build_sweep_runs


class SweepsMixin:
    """SweepBacktests."""

    execution: ExecutionService

    async def SweepBacktests(
        self, request: catalog_pb2.SweepBacktestsRequest, context
    ) -> catalog_pb2.SweepBacktestsResponse:
        fields = execution_convert.sweep_fields(request)
        runs = build_sweep_runs(**fields)
        rank_metric = fields["rank_metric"] or DEFAULT_RANK_METRIC
        task_id = await self.execution.sweep(runs, fields["param_grid"], rank_metric=rank_metric)
        status = TaskStatus.PENDING
        return catalog_pb2.SweepBacktestsResponse(task_id=str(task_id), status=status, n_configs=len(runs))
