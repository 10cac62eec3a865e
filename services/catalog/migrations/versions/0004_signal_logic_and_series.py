"""Strategies as data: signal logic (current and every version) and the model-output series index.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The vocabularies as they were when this revision was written.
OUTPUT_MODES = "output_mode IN ('discrete', 'numeric')"
POSITION_MODES = "position_mode IN ('long_only', 'long_short')"


def upgrade() -> None:
    op.create_table(
        "signal_logic",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("rule_tree", JSONB(), nullable=False),
        sa.Column("output_mode", sa.Text(), nullable=False),
        sa.Column("position_mode", sa.Text(), nullable=False),
        sa.Column("strategy_id", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(OUTPUT_MODES, name=op.f("ck_signal_logic_output_mode")),
        sa.CheckConstraint(POSITION_MODES, name=op.f("ck_signal_logic_position_mode")),
        sa.ForeignKeyConstraint(
            ["strategy_id"], ["strategies.id"], name=op.f("fk_signal_logic_strategy_id_strategies"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signal_logic")),
    )
    op.create_index(
        "ix_signal_logic_created_at", "signal_logic", [sa.text("created_at DESC"), sa.text("id DESC")], unique=False
    )
    op.create_table(
        "signal_logic_versions",
        sa.Column("logic_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("rule_tree", JSONB(), nullable=False),
        sa.Column("output_mode", sa.Text(), nullable=False),
        sa.Column("position_mode", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["logic_id"],
            ["signal_logic.id"],
            name=op.f("fk_signal_logic_versions_logic_id_signal_logic"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("logic_id", "version", name=op.f("pk_signal_logic_versions")),
    )
    op.create_table(
        "signal_series",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("symbols", JSONB(), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.Text(), nullable=False),
        sa.Column("object_uri", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_signal_series")),
    )
    # Deleting a signal logic asks whether any backtest names it in its config.
    op.create_index(
        "ix_backtests_signal_logic_id",
        "backtests",
        [sa.text("(config ->> 'signal_logic_id')")],
        unique=False,
        postgresql_where=sa.text("config ? 'signal_logic_id'"),
    )


def downgrade() -> None:
    op.drop_index("ix_backtests_signal_logic_id", table_name="backtests")
    op.drop_table("signal_series")
    op.drop_table("signal_logic_versions")
    op.drop_index("ix_signal_logic_created_at", table_name="signal_logic")
    op.drop_table("signal_logic")
