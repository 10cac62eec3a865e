"""Backtests: /api/v1/backtests, their execution and their artifacts."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd

from backtest_client.errors import GatewayTimeoutError, RunFailedError
from backtest_client.frames import compare_frame
from backtest_client.models import Backtest, BacktestSpec
from backtest_client.resources import Resource
from backtest_client.results import BacktestResult
from backtest_client.tasks import RunTask, poll

SETTLED = ("completed", "failed")
TRADE_COLUMNS = ["entry_date", "exit_date", "side", "entry_price", "exit_price", "size", "pnl", "return_pct", "status"]
# Parquet downloads stream for as long as they take; a read may pause between chunks.
DOWNLOAD_TIMEOUT_S = 300.0


class Backtests(Resource):
    """Create, list, get, delete and run backtests; read their results."""

    def create(self, spec: BacktestSpec) -> Backtest:
        """Creates a backtest in "pending" status; ValidationError naming each bad field."""
        return Backtest.from_wire(self._transport.json("POST", "/backtests", json=spec.to_wire()))

    def list(self, *, strategy_id: str | None = None, skip: int = 0, limit: int = 100) -> list[Backtest]:
        """Backtests, newest first. strategy_id: only that strategy's; skip, limit (1..1000): paging."""
        params = {"strategy_id": strategy_id, "skip": skip, "limit": limit}
        return [Backtest.from_wire(item) for item in self._transport.json("GET", "/backtests", params=params)]

    def get(self, backtest_id: str) -> Backtest:
        """One backtest; NotFoundError when there is none."""
        return Backtest.from_wire(self._transport.json("GET", f"/backtests/{backtest_id}"))

    def delete(self, backtest_id: str) -> None:
        """Deletes the record (its artifacts stay in the store)."""
        self._transport.request("DELETE", f"/backtests/{backtest_id}")

    def run(self, backtest_id: str, *, timeout: float | None = None) -> BacktestResult:
        """Runs a backtest synchronously and returns its result; RunFailedError if the run failed.

        Past the deployment's deadline the API answers 504 while the run goes
        on; the client then follows the run by polling until it settles.
        backtest_id: a backtest that is not running (ConflictError otherwise).
        timeout: seconds to wait in all; None as long as it takes.
        """
        try:
            wire = self._transport.json(
                "POST", f"/backtests/{backtest_id}/execute", json={"async_mode": False}, timeout=timeout
            )
            backtest = Backtest.from_wire(wire)
        except GatewayTimeoutError:
            backtest = poll(
                lambda: self.get(backtest_id),
                lambda b: b.status in SETTLED,
                timeout=timeout,
                what=f"backtest {backtest_id}",
            )
        if backtest.status != "completed":
            raise RunFailedError(backtest.id, backtest.error or backtest.status)
        # The sync answer lacks sweep_id and is otherwise the record; reading it again costs a round trip.
        return BacktestResult(self._client, backtest)

    def submit(self, backtest_id: str) -> RunTask:
        """Dispatches a backtest to the executor fleet; returns the task to wait on."""
        wire = self._transport.json("POST", f"/backtests/{backtest_id}/execute/async", json={})
        return RunTask(self._client, wire["task_id"], backtest_id)

    def result(self, backtest_id: str) -> BacktestResult:
        """The result of a completed backtest; RunFailedError if it failed, ConflictError if not yet run."""
        backtest = self.get(backtest_id)
        if backtest.status == "failed":
            raise RunFailedError(backtest.id, backtest.error or "failed")
        return BacktestResult(self._client, backtest)

    def equity(
        self, backtest_id: str, *, start: str | None = None, end: str | None = None, every: str | None = None
    ) -> pd.Series:
        """The equity curve on a DatetimeIndex named "date": every point (its Parquet download) unless asked otherwise.

        start, end: only the points between them, inclusive (ISO-8601; a bare date is its midnight).
        every: one point per bucket of this bar size ("5m", "1h", "1d", "1w"...): each bucket's last
        point, at its own date, as `resample(every).last()` (weeks start on Monday).
        With any of them the service cuts and downsamples the curve (GET .../equity-curve?start=&end=&every=),
        so a plot of a million-bar curve fetches only its points; dates then come tz-naive UTC.
        """
        if start is None and end is None and every is None:
            return self._parquet(f"/backtests/{backtest_id}/equity-curve/parquet")["equity"]
        params = {"start": start, "end": end, "every": every}
        points = self._transport.json(
            "GET", f"/backtests/{backtest_id}/equity-curve", params=params, timeout=DOWNLOAD_TIMEOUT_S
        )
        dates = pd.DatetimeIndex(pd.to_datetime([p["date"] for p in points], format="ISO8601"), name="date")
        return pd.Series([p["equity"] for p in points], index=dates, name="equity", dtype="float64")

    def trades(self, backtest_id: str, *, start: str | None = None, end: str | None = None) -> pd.DataFrame:
        """The trade list, one row per round trip: every trade (its Parquet download) unless asked otherwise.

        start, end: only the trades entered between them, inclusive (ISO-8601; a bare date is its midnight),
        chosen by the service (GET .../trades?start=&end=); dates then come tz-naive UTC.
        """
        if start is None and end is None:
            return self._parquet(f"/backtests/{backtest_id}/trades/parquet")
        rows = self._transport.json(
            "GET", f"/backtests/{backtest_id}/trades", params={"start": start, "end": end}, timeout=DOWNLOAD_TIMEOUT_S
        )
        frame = pd.DataFrame(rows, columns=TRADE_COLUMNS)
        for name in ("entry_date", "exit_date"):
            frame[name] = pd.to_datetime(frame[name], format="ISO8601")
        return frame

    def engines(self) -> list[str]:
        """Engines offered by live executors."""
        return list(self._transport.json("GET", "/backtests/engines/available").get("engines", []))

    def compare(self, backtest_ids: list[str]) -> pd.DataFrame:
        """2 to 10 runs side by side (see `frames.compare_frame`): metrics by run, direction and best run."""
        wire: Any = self._transport.json("POST", "/backtests/compare", json={"backtest_ids": list(backtest_ids)})
        return compare_frame(wire)

    def _parquet(self, path: str) -> pd.DataFrame:
        data = self._transport.request("GET", path, timeout=DOWNLOAD_TIMEOUT_S).content
        return pd.read_parquet(io.BytesIO(data))
