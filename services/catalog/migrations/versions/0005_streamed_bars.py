"""Streamed market data: retired series objects awaiting collection, and the bars' SHA-256 on each backtest.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "retired_objects",
        sa.Column("object_uri", sa.Text(), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("object_uri", name=op.f("pk_retired_objects")),
    )
    op.add_column("backtests", sa.Column("bars_sha256", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("backtests", "bars_sha256")
    op.drop_table("retired_objects")
