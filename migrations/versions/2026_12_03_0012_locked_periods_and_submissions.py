"""locked periods and timesheet submissions

- companies.locked_through: every log whose start falls on or before that
  local day (the employee's zone) is locked; NULL locks nothing.
- companies.week_start: the first day of the company's weeks (monday by
  default), which its weekly grid and its submitted weeks follow.
- company_changes: the company's history of such moves (who, when, before
  and after), the only way past a lock being to move its date.
- timesheet_submissions: one row per employee and week, SUBMITTED, APPROVED
  or REJECTED; a rejected week is submitted again on the same row, so the
  unique (user_id, week_start) is what makes concurrent submits one. The
  week's UTC bounds in the employee's zone at submission (starts_at,
  ends_at) are what it locks and what `approvedOnly` reports count.
- submission_events: each transition with who, when and comment.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 64-bit ids on PostgreSQL; SQLite only auto-increments INTEGER PRIMARY KEY.
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
WEEKDAYS = "week_start IN ('monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday')"
STATUSES = "status IN ('SUBMITTED', 'APPROVED', 'REJECTED')"


def upgrade() -> None:
    with op.batch_alter_table("companies") as batch:
        batch.add_column(sa.Column("locked_through", sa.Date(), nullable=True))
        batch.add_column(sa.Column("week_start", sa.String(9), server_default="monday", nullable=False))
        batch.create_check_constraint("known_week_start", WEEKDAYS)

    op.create_table(
        "company_changes",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("company_id", BIG_ID, nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("before", JSON, nullable=True),
        sa.Column("after", JSON, nullable=True),
        sa.Column("changed_by", sa.String(64), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name="fk_company_changes_company_id_companies", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_company_changes"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_company_changes_company_id_id", "company_changes", ["company_id", "id"])

    op.create_table(
        "timesheet_submissions",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("company_id", BIG_ID, nullable=False),
        sa.Column("user_id", BIG_ID, nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("week_end", sa.Date(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total_seconds", sa.BigInteger(), nullable=False),
        sa.Column("approved_seconds", sa.BigInteger(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_by", sa.String(64), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by", sa.String(64), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(STATUSES, name="ck_timesheet_submissions_known_status"),
        sa.CheckConstraint("week_end >= week_start", name="ck_timesheet_submissions_week_in_order"),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name="fk_timesheet_submissions_company_id_companies", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["employees.id"], name="fk_timesheet_submissions_user_id_employees", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_timesheet_submissions"),
        sa.UniqueConstraint("user_id", "week_start", name="uq_timesheet_submissions_user_id_week_start"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_timesheet_submissions_user_id_starts_at", "timesheet_submissions", ["user_id", "starts_at"])
    op.create_index(
        "ix_timesheet_submissions_company_id_week_start", "timesheet_submissions", ["company_id", "week_start"]
    )

    op.create_table(
        "submission_events",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("submission_id", BIG_ID, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total_seconds", sa.BigInteger(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("acted_by", sa.String(64), nullable=False),
        sa.Column("acted_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["timesheet_submissions.id"],
            name="fk_submission_events_submission_id_timesheet_submissions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_submission_events"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_submission_events_submission_id_id", "submission_events", ["submission_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_submission_events_submission_id_id", table_name="submission_events")
    op.drop_table("submission_events")
    op.drop_index("ix_timesheet_submissions_company_id_week_start", table_name="timesheet_submissions")
    op.drop_index("ix_timesheet_submissions_user_id_starts_at", table_name="timesheet_submissions")
    op.drop_table("timesheet_submissions")
    op.drop_index("ix_company_changes_company_id_id", table_name="company_changes")
    op.drop_table("company_changes")
    with op.batch_alter_table("companies") as batch:
        batch.drop_constraint("known_week_start", type_="check")
        batch.drop_column("week_start")
        batch.drop_column("locked_through")
