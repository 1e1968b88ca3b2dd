"""search indexes: keyset order over all logs, and logs changed since

`GET /tasklogs/` pages in (start_time, id) order. With an employee or a task
the existing (user_id, start_time) and (task_id, start_time) indexes serve
the range (a project is read as its tasks); without one, (start_time, id)
does. `updatedSince` reads the (updated_at) index.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_task_logs_start_time_id", "task_logs", ["start_time", "id"])
    op.create_index("ix_task_logs_updated_at", "task_logs", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_task_logs_updated_at", table_name="task_logs")
    op.drop_index("ix_task_logs_start_time_id", table_name="task_logs")
