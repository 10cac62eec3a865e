"""Per-block return sums of each run, for the probability of backtest overfitting of its search.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # {"sums": [...], "squares": [...]}: 16 blocks each; NULL for a run that never completed.
    op.add_column("backtests", sa.Column("return_blocks", JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("backtests", "return_blocks")
