"""Tasks can be cancelled: a REVOKED task, revoked runs, and a count of them.

1. `backtests.status` may be `revoked`: a run whose task was cancelled before
   it finished (services/domain/statuses.py).
2. `tasks.status` may be `REVOKED`, and tasks count the runs a cancel revoked
   (`revoked`) beside `succeeded` and `failed`.

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Literal copies: a migration must mean tomorrow what it meant when it ran.
BACKTEST_STATUSES = "status IN ('pending', 'running', 'completed', 'failed', 'revoked')"
TASK_STATUSES = "status IN ('PENDING', 'STARTED', 'PROGRESS', 'SUCCESS', 'FAILURE', 'REVOKED')"
OLD_BACKTEST_STATUSES = "status IN ('pending', 'running', 'completed', 'failed')"
OLD_TASK_STATUSES = "status IN ('PENDING', 'STARTED', 'PROGRESS', 'SUCCESS', 'FAILURE')"


def _replace_check(table: str, name: str, condition: str) -> None:
    op.drop_constraint(op.f(name), table, type_="check")
    op.create_check_constraint(op.f(name), table, condition)


def upgrade() -> None:
    _replace_check("backtests", "ck_backtests_status", BACKTEST_STATUSES)
    _replace_check("tasks", "ck_tasks_status", TASK_STATUSES)
    op.add_column("tasks", sa.Column("revoked", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    # Revoked runs never ran to an outcome: before cancel existed they would have stayed pending.
    op.execute("UPDATE backtests SET status = 'pending' WHERE status = 'revoked'")
    op.execute("UPDATE tasks SET status = 'FAILURE', error = 'cancelled' WHERE status = 'REVOKED'")
    op.drop_column("tasks", "revoked")
    _replace_check("backtests", "ck_backtests_status", OLD_BACKTEST_STATUSES)
    _replace_check("tasks", "ck_tasks_status", OLD_TASK_STATUSES)
