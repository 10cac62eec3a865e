"""Outbox rows remember the JetStream sequence their job was stored at.

With it the catalog can tell whether a running backtest's job is still in the
work queue (pending, in flight, or waiting out a retry) or gone, which is how
the orphan reaper finds runs that nothing will ever finish.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("stream_seq", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("outbox", "stream_seq")
