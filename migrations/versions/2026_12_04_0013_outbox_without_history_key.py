"""outbox events without a foreign key into the history

outbox_events.change_seq loses its foreign key to task_log_changes.seq.
The one statement that appends a change to the history also writes its
event (app/tasklogs/history.py), and nothing deletes history, so the key
proved nothing the write does not already guarantee. It cost a look-up into
the history per event, a large part of the outbox's time in a 1,000-log bulk
(bench/RESULTS.md), and a plan made while the history was empty turned that
look-up into a scan of the whole history on a server without autovacuum.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op
from alembic.operations import BatchOperations

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FOREIGN_KEY = "fk_outbox_events_change_seq_task_log_changes"


def upgrade() -> None:
    with _outbox_copied() as batch:
        batch.drop_constraint(FOREIGN_KEY, type_="foreignkey")


def downgrade() -> None:
    with _outbox_copied() as batch:
        batch.create_foreign_key(FOREIGN_KEY, "task_log_changes", ["change_seq"], ["seq"], ondelete="CASCADE")


@contextmanager
def _outbox_copied() -> Iterator[BatchOperations]:
    """SQLite alters the table by copying it. The copy keeps AUTOINCREMENT and
    the highest id ever given (sqlite_sequence), so the ids of events already
    pruned are never given again."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    highest = _highest_id_given() if sqlite else None
    with op.batch_alter_table("outbox_events", table_kwargs={"sqlite_autoincrement": True}) as batch:
        yield batch
    if highest is not None:
        op.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = 'outbox_events'"))
        op.execute(
            sa.text(
                "INSERT INTO sqlite_sequence (name, seq) "
                "SELECT 'outbox_events', max(:highest, coalesce(max(id), 0)) FROM outbox_events"
            ).bindparams(highest=highest)
        )


def _highest_id_given() -> int | None:
    return op.get_bind().execute(sa.text("SELECT seq FROM sqlite_sequence WHERE name = 'outbox_events'")).scalar()
