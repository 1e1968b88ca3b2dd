"""time warnings: over-logged days and overlapping logs, kept by every write

One row per condition (employee, type, subject: the local date of an
over-logged day, or "<first>-<second>" log ids of an overlapping pair), its
status open, ignored or resolved. Listed by employee and day.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 64-bit ids on PostgreSQL; SQLite only auto-increments INTEGER PRIMARY KEY.
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "time_warnings",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("user_id", BIG_ID, nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("total_seconds", sa.BigInteger(), nullable=True),
        sa.Column("first_log_id", sa.BigInteger(), nullable=True),
        sa.Column("second_log_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(16), server_default="open", nullable=False),
        sa.Column("resolved_by", sa.String(64), nullable=True),
        sa.Column("action_by", sa.String(64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("opened_by", sa.String(32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["employees.id"], name="fk_time_warnings_user_id_employees", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_time_warnings"),
        sa.UniqueConstraint("user_id", "type", "subject", name="uq_time_warnings_user_id_type_subject"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_time_warnings_user_id_day", "time_warnings", ["user_id", "day"])


def downgrade() -> None:
    op.drop_index("ix_time_warnings_user_id_day", table_name="time_warnings")
    op.drop_table("time_warnings")
