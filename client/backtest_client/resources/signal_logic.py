"""Signal logic: /api/v1/signal-logic, versioned rule trees."""

from __future__ import annotations

from typing import Any

from backtest_client.resources import Resource
from backtest_client.signals import RuleTree, SignalLogic

# Fields of a signal logic a create or an update may set, besides name and rule_tree.
OPTIONAL_FIELDS = ("description", "output_mode", "position_mode", "strategy_id")


class SignalLogicResource(Resource):
    """Create, list, get, update and delete rule-tree strategies."""

    def create(
        self,
        name: str,
        rule_tree: RuleTree,
        *,
        output_mode: str | None = None,
        position_mode: str | None = None,
        description: str | None = None,
        strategy_id: str | None = None,
    ) -> SignalLogic:
        """Stores a rule tree at version 1; ValidationError naming each bad node (`rule_tree[0].rules[1].field`).

        name: human-readable, at most 255 characters.
        rule_tree: groups of rules (see `RuleGroup` and docs/strategies.md).
        output_mode: "discrete" (the default) or "numeric".
        position_mode: "long_short" (the default, as in the seed) or "long_only".
        description: free text. strategy_id: a strategy it belongs to.
        """
        body = self._body(
            name=name,
            rule_tree=rule_tree,
            output_mode=output_mode,
            position_mode=position_mode,
            description=description,
            strategy_id=strategy_id,
        )
        return SignalLogic.from_wire(self._transport.json("POST", "/signal-logic", json=body))

    def list(self, *, skip: int = 0, limit: int = 100) -> list[SignalLogic]:
        """Signal logic, newest first. skip: how many to pass over; limit: at most how many (1..1000)."""
        wire = self._transport.json("GET", "/signal-logic", params={"skip": skip, "limit": limit})
        return [SignalLogic.from_wire(item) for item in wire]

    def get(self, logic_id: str) -> SignalLogic:
        """One signal logic at its current version; NotFoundError when there is none."""
        return SignalLogic.from_wire(self._transport.json("GET", f"/signal-logic/{logic_id}"))

    def update(
        self,
        logic_id: str,
        *,
        name: str | None = None,
        rule_tree: RuleTree | None = None,
        output_mode: str | None = None,
        position_mode: str | None = None,
        description: str | None = None,
        strategy_id: str | None = None,
    ) -> SignalLogic:
        """Changes the fields given (None leaves one as it is) and returns the new version.

        Runs already claimed keep the version they started with; later runs use the new one.
        logic_id: the signal logic. The other parameters: as for `create`.
        """
        body = self._body(
            name=name,
            rule_tree=rule_tree,
            output_mode=output_mode,
            position_mode=position_mode,
            description=description,
            strategy_id=strategy_id,
        )
        return SignalLogic.from_wire(self._transport.json("PATCH", f"/signal-logic/{logic_id}", json=body))

    def delete(self, logic_id: str) -> None:
        """Deletes a signal logic; ConflictError while a backtest names it."""
        self._transport.request("DELETE", f"/signal-logic/{logic_id}")

    @staticmethod
    def _body(**fields: Any) -> dict[str, Any]:
        return {name: value for name, value in fields.items() if value is not None}
