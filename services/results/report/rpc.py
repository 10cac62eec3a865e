"""GetBacktestReport and GetTaskReport: look the record up, load its data off the event loop, render.

A mixin of `ResultsServicer` (as the catalog's RPC groups are of its
servicer): it uses the servicer's `catalog` client and `artifacts` reader.
Errors follow the other result endpoints: 404 for an unknown id, 409 until
the run (or task) is done.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from functools import cached_property

from services.domain.errors import ConflictError
from services.results.artifacts import Artifacts
from services.results.catalog_client import CatalogClient
from services.results.report import convert, sweep_page, tearsheet
from services.results.report.catalog_reads import CatalogReads
from services.results.report.inputs import load_run_inputs

log = logging.getLogger(__name__)
DONE = ("SUCCESS", "FAILURE")


class ReportsMixin:
    """The two report RPCs."""

    catalog: CatalogClient
    artifacts: Artifacts

    @cached_property
    def _reads(self) -> CatalogReads:
        return CatalogReads(self.catalog)

    async def GetBacktestReport(self, request, context):
        return convert.html_body(await self._backtest_page(request.backtest_id))

    async def GetTaskReport(self, request, context):
        task = await self._reads.task(request.task_id)
        if task.status == "REVOKED":
            raise ConflictError(f"task {task.task_id} was cancelled (REVOKED): a cancelled task has no report")
        if task.status not in DONE:
            raise ConflictError(f"task {task.task_id} is {task.status}: its report exists once it is done")
        if task.kind == "sweep":
            log.info("report", extra={"task_id": task.task_id, "kind": task.kind})
            page = await asyncio.to_thread(sweep_page.render, task, generated_at=datetime.now(UTC))
            return convert.html_body(page)
        if task.backtest_id is None:
            raise ConflictError(f"task {task.task_id} names no backtest")
        return convert.html_body(await self._backtest_page(task.backtest_id))

    async def _backtest_page(self, backtest_id: str) -> str:
        run = await self._reads.backtest(backtest_id)
        log.info("report", extra={"backtest_id": run.id})

        def build() -> str:
            return tearsheet.render(load_run_inputs(self.artifacts, run), generated_at=datetime.now(UTC))

        return await asyncio.to_thread(build)
