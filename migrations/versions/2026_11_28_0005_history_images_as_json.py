"""history images stored as json text, not jsonb

Every write appends its images and almost nothing reads them back (a log's
history, the feed, a restore), never inside SQL: json keeps the text as
sent, which PostgreSQL takes in about half the time jsonb needs to convert
it (a bulk upload writes a thousand at once). SQLite stores JSON as text
either way, so there is nothing to change there.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _convert(to: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    new_type = sa.JSON() if to == "json" else postgresql.JSONB()
    old_type = postgresql.JSONB() if to == "json" else sa.JSON()
    for column in ("before", "after"):
        op.alter_column(
            "task_log_changes",
            column,
            type_=new_type,
            existing_type=old_type,
            existing_nullable=True,
            postgresql_using=f'"{column}"::{to}',
        )


def upgrade() -> None:
    _convert("json")


def downgrade() -> None:
    _convert("jsonb")
