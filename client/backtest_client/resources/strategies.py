"""Strategies: /api/v1/strategies."""

from __future__ import annotations

from typing import Any

from backtest_client.models import Strategy
from backtest_client.resources import Resource


class Strategies(Resource):
    """Create, list, get and delete strategies."""

    def create(
        self,
        name: str,
        *,
        description: str | None = None,
        universe: list[str] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Strategy:
        """Creates a strategy.

        name: human-readable name. description: free text.
        universe: symbols it trades. params: free-form parameters.
        """
        body: dict[str, Any] = {"name": name, "universe": list(universe or []), "params": dict(params or {})}
        if description is not None:
            body["description"] = description
        return Strategy.from_wire(self._transport.json("POST", "/strategies", json=body))

    def list(self, *, skip: int = 0, limit: int = 100) -> list[Strategy]:
        """Strategies, newest first. skip: how many to pass over; limit: at most how many (1..1000)."""
        wire = self._transport.json("GET", "/strategies", params={"skip": skip, "limit": limit})
        return [Strategy.from_wire(item) for item in wire]

    def get(self, strategy_id: str) -> Strategy:
        """One strategy; NotFoundError when there is none."""
        return Strategy.from_wire(self._transport.json("GET", f"/strategies/{strategy_id}"))

    def delete(self, strategy_id: str) -> None:
        """Deletes a strategy; ConflictError while backtests reference it."""
        self._transport.request("DELETE", f"/strategies/{strategy_id}")
