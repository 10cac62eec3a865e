"""Every running backtest's job is trackable; tasks count successes and failures apart.

1. Tasks: `completed` counted runs settled either way, which read as
   "succeeded"; it becomes `succeeded` (settled minus failed).
2. Sweep backtests created before they named their own job carry the
   sweep's id as job_id; each now names the outbox job whose payload lists it.
3. Jobs published before stream sequences were kept cannot be looked up in
   the stream; while any of their runs is still running, their outbox rows go
   back to unpublished, so the relay publishes them again and records the
   sequence. A run that happens to be delivered twice is harmless: every
   outcome is a conditional update on `running`, and StartRuns tells a late
   executor to drop results of runs already settled.

After this the orphan scan needs no branch for jobs it cannot tell about.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("tasks", sa.Column("succeeded", sa.Integer(), server_default="0", nullable=False))
    op.execute("UPDATE tasks SET succeeded = completed - failed")
    op.drop_column("tasks", "completed")
    op.execute(
        """
        UPDATE backtests AS b SET job_id = o.msg_id
        FROM outbox AS o
        WHERE b.sweep_id IS NOT NULL AND b.job_id = b.sweep_id::text
          AND o.msg_id LIKE b.sweep_id::text || '.%'
          AND (convert_from(o.payload, 'UTF8')::jsonb -> 'backtest_ids') ? b.id::text
        """
    )
    op.execute(
        """
        UPDATE outbox AS o SET published_at = NULL
        WHERE o.published_at IS NOT NULL AND o.stream_seq IS NULL
          AND EXISTS (SELECT 1 FROM backtests AS b WHERE b.job_id = o.msg_id AND b.status = 'running')
        """
    )


def downgrade() -> None:
    op.add_column("tasks", sa.Column("completed", sa.Integer(), server_default="0", nullable=False))
    op.execute("UPDATE tasks SET completed = succeeded + failed")
    op.drop_column("tasks", "succeeded")
