"""running totals of logged seconds on projects and tasks

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("projects", "tasks"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("logged_seconds", sa.BigInteger(), server_default="0", nullable=False))
    if op.get_bind().dialect.name == "sqlite":
        seconds = "CAST(strftime('%s', l.end_time) AS INTEGER) - CAST(strftime('%s', l.start_time) AS INTEGER)"
    else:
        seconds = "CAST(EXTRACT(EPOCH FROM l.end_time - l.start_time) AS BIGINT)"
    op.execute(
        f"UPDATE tasks SET logged_seconds = COALESCE((SELECT SUM({seconds}) FROM task_logs l "
        "WHERE l.task_id = tasks.id), 0)"
    )
    op.execute(
        "UPDATE projects SET logged_seconds = COALESCE((SELECT SUM(t.logged_seconds) FROM tasks t "
        "WHERE t.project_id = projects.id), 0)"
    )


def downgrade() -> None:
    for table in ("tasks", "projects"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("logged_seconds")
