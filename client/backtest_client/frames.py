"""Tables the API answers as JSON, as pandas DataFrames: leaderboards and comparisons."""

from __future__ import annotations

from typing import Any

import pandas as pd

from backtest_client._wire import CompareWire, LeaderboardEntryWire


def flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted keys: {"a": {"b": 1}} -> {"a.b": 1}."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def leaderboard_frame(result: dict[str, Any]) -> pd.DataFrame:
    """A finished sweep's leaderboard: one row per run, best first, indexed by rank.

    Columns: backtest_id, status, one per override key (dotted), the rank
    metric, then every other metric, then error. `attrs` keeps rank_metric,
    direction and the override columns' names.
    result: the sweep task's `result` document.
    """
    entries: list[LeaderboardEntryWire] = list(result.get("leaderboard") or [])
    rank_metric = str(result.get("rank_metric", ""))
    rows = []
    for entry in entries:
        row: dict[str, Any] = {
            "rank": int(entry["rank"]),
            "backtest_id": entry["backtest_id"],
            "status": entry["status"],
        }
        row.update(flatten(entry.get("overrides") or {}))
        row.update(entry.get("metrics") or {})
        if "perf_deflated_sharpe_ratio" in entry:  # the leaderboard's own statistic, beside the run's metrics
            row["perf_deflated_sharpe_ratio"] = entry["perf_deflated_sharpe_ratio"]
        row["error"] = entry.get("error")
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        frame = pd.DataFrame(columns=["rank", "backtest_id", "status", rank_metric, "error"])
    overrides = [c for c in frame.columns if any(c in flatten(e.get("overrides") or {}) for e in entries)]
    first = ["backtest_id", "status", *overrides, *([rank_metric] if rank_metric in frame.columns else [])]
    rest = [c for c in frame.columns if c not in first and c not in ("rank", "error")]
    frame = frame.set_index("rank")[[*first, *rest, "error"]]
    frame.attrs.update(rank_metric=rank_metric, direction=result.get("direction"), overrides=overrides)
    return frame


def compare_frame(wire: CompareWire) -> pd.DataFrame:
    """Runs side by side: one row per metric, one column per backtest id (request order).

    The last two columns are `direction` ("higher", "lower" or "neutral") and
    `best` (the best run's id; None for neutral metrics).
    wire: the POST /backtests/compare answer.
    """
    ids = [run["id"] for run in wire.get("runs", [])]
    rows = {}
    for metric, diff in wire.get("metric_diff", {}).items():
        values = diff.get("values") or {}
        rows[metric] = {
            **{i: values.get(i) for i in ids},
            "direction": diff.get("direction"),
            "best": diff.get("best_id"),
        }
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=[*ids, "direction", "best"])
    frame.index.name = "metric"
    # None, not NaN, where no run is best: the column holds ids.
    frame["best"] = pd.Series([rows[m]["best"] for m in frame.index], index=frame.index, dtype=object)
    frame.attrs["engines"] = {run["id"]: run.get("engine") for run in wire.get("runs", [])}
    return frame
