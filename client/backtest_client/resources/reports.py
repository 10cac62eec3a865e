"""HTML reports: /api/v1/backtests/{id}/report and /api/v1/tasks/{id}/report."""

from __future__ import annotations

from backtest_client.reports import Report
from backtest_client.resources import Resource


class Reports(Resource):
    """Tearsheets of runs and reports of sweeps, rendered by the platform."""

    def backtest(self, backtest_id: str) -> Report:
        """A completed run's tearsheet; ConflictError until it completed."""
        text = self._transport.request("GET", f"/backtests/{backtest_id}/report").text
        return Report(text, f"report_{backtest_id}.html")

    def task(self, task_id: str) -> Report:
        """A finished task's report (a sweep's leaderboard and heatmap); ConflictError until it is done."""
        text = self._transport.request("GET", f"/tasks/{task_id}/report").text
        return Report(text, f"report_{task_id}.html")
