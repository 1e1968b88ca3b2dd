"""initial schema: reference data mirror, task logs, notifications

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 64-bit ids on PostgreSQL; SQLite only auto-increments INTEGER PRIMARY KEY.
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "companies",
        sa.Column("id", BIG_ID, autoincrement=False, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("timezone", sa.String(64), server_default="UTC", nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_companies"),
    )
    op.create_table(
        "employees",
        sa.Column("id", BIG_ID, autoincrement=False, nullable=False),
        sa.Column("company_id", BIG_ID, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("is_admin", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("is_team_leader", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name="fk_employees_company_id_companies", ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_employees"),
    )
    op.create_index("ix_employees_company_id", "employees", ["company_id"])
    op.create_table(
        "projects",
        sa.Column("id", BIG_ID, autoincrement=False, nullable=False),
        sa.Column("company_id", BIG_ID, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("allocated_hours", sa.Numeric(12, 2), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("allocation_exceeded", sa.Boolean(), server_default=sa.false(), nullable=False),
        *_timestamps(),
        sa.CheckConstraint("allocated_hours >= 0", name=op.f("ck_projects_allocated_hours_non_negative")),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name="fk_projects_company_id_companies", ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_projects"),
    )
    op.create_index("ix_projects_company_id", "projects", ["company_id"])
    op.create_table(
        "tasks",
        sa.Column("id", BIG_ID, autoincrement=False, nullable=False),
        sa.Column("project_id", BIG_ID, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("allocated_hours", sa.Numeric(12, 2), nullable=True),
        sa.Column("allocation_exceeded", sa.Boolean(), server_default=sa.false(), nullable=False),
        *_timestamps(),
        sa.CheckConstraint("allocated_hours >= 0", name=op.f("ck_tasks_allocated_hours_non_negative")),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name="fk_tasks_project_id_projects", ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_tasks"),
    )
    op.create_index("ix_tasks_project_id", "tasks", ["project_id"])
    op.create_table(
        "task_logs",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("task_id", BIG_ID, nullable=False),
        sa.Column("user_id", BIG_ID, nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("manual_add", sa.Boolean(), server_default=sa.false(), nullable=False),
        *_timestamps(),
        sa.CheckConstraint("end_time > start_time", name=op.f("ck_task_logs_end_after_start")),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name="fk_task_logs_task_id_tasks", ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["employees.id"], name="fk_task_logs_user_id_employees", ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_task_logs"),
        sa.UniqueConstraint("task_id", "user_id", "start_time", name="uq_task_logs_task_id_user_id_start_time"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_task_logs_task_id_start_time", "task_logs", ["task_id", "start_time"])
    op.create_index("ix_task_logs_user_id_start_time", "task_logs", ["user_id", "start_time"])
    op.create_table(
        "notifications",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("recipient_id", BIG_ID, nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("payload", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("read", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["recipient_id"], ["employees.id"], name="fk_notifications_recipient_id_employees", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_notifications_recipient_id_read_id", "notifications", ["recipient_id", "read", "id"])


def downgrade() -> None:
    op.drop_table("notifications")
    op.drop_table("task_logs")
    op.drop_table("tasks")
    op.drop_table("projects")
    op.drop_table("employees")
    op.drop_table("companies")
