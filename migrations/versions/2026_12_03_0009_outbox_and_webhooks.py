"""outbox and webhooks: events written in the write's transaction, the
companies' subscriptions, and one delivery per event and subscription

`outbox_events` holds every event for other services (webhooks, NATS). A
task log's event points at its change in `task_log_changes` (its images are
the event's data); other events carry their own `data`. The `evt_…` id is
the database's default, so writers send none. `webhook_deliveries` is the
dispatcher's queue: pending ones are claimed by due time, a later event of
a log waits for an earlier pending one of the same subscription.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Instant = sa.DateTime(timezone=True)
PG_EVENT_ID = "'evt_' || replace(CAST(gen_random_uuid() AS text), '-', '')"
SQLITE_EVENT_ID = "('evt_' || lower(hex(randomblob(16))))"
UNFANNED = sa.text("fanned_out_at IS NULL")
NATS_PENDING = sa.text("nats_pending")
PENDING = sa.text("status = 'pending'")


def _is_postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    postgresql = _is_postgresql()
    op.create_table(
        "webhooks",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("company_id", BigId, nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("description", sa.String(255), nullable=True),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("secret", sa.String(64), nullable=False),
        sa.Column("previous_secret", sa.String(64), nullable=True),
        sa.Column("previous_secret_expires_at", Instant, nullable=True),
        sa.Column("failing_since", Instant, nullable=True),
        sa.Column("created_at", Instant, server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", Instant, server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name="fk_webhooks_company_id_companies", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_webhooks"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_webhooks_company_id", "webhooks", ["company_id"])

    op.create_table(
        "outbox_events",
        sa.Column("id", BigId, sa.Identity(), nullable=False),
        sa.Column(
            "event_id",
            sa.String(40),
            server_default=sa.text(PG_EVENT_ID if postgresql else SQLITE_EVENT_ID),
            nullable=False,
        ),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("company_id", BigId, nullable=False),
        sa.Column("task_log_id", BigId, nullable=True),
        sa.Column("change_seq", BigId, nullable=True),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.Column("webhook_id", BigId, nullable=True),
        sa.Column("created_at", Instant, server_default=sa.func.now(), nullable=False),
        sa.Column("fanned_out_at", Instant, nullable=True),
        sa.Column("nats_pending", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.CheckConstraint("(change_seq IS NULL) <> (data IS NULL)", name="ck_outbox_events_data_or_change"),
        sa.ForeignKeyConstraint(
            ["change_seq"],
            ["task_log_changes.seq"],
            name="fk_outbox_events_change_seq_task_log_changes",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["webhook_id"], ["webhooks.id"], name="fk_outbox_events_webhook_id_webhooks", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_outbox_events"),
        sa.UniqueConstraint("event_id", name="uq_outbox_events_event_id"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_outbox_events_unfanned", "outbox_events", ["id"], postgresql_where=UNFANNED, sqlite_where=UNFANNED
    )
    op.create_index(
        "ix_outbox_events_nats_pending",
        "outbox_events",
        ["id"],
        postgresql_where=NATS_PENDING,
        sqlite_where=NATS_PENDING,
    )

    op.create_table(
        "webhook_deliveries",
        sa.Column("id", BigId, sa.Identity(), nullable=False),
        sa.Column("webhook_id", BigId, nullable=False),
        sa.Column("event_id", BigId, nullable=False),
        sa.Column("task_log_id", BigId, nullable=True),
        sa.Column("status", sa.String(16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", Instant, nullable=True),
        sa.Column("last_attempt_at", Instant, nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("created_at", Instant, server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="ck_webhook_deliveries_known_status"),
        sa.CheckConstraint(
            "status <> 'pending' OR next_attempt_at IS NOT NULL", name="ck_webhook_deliveries_pending_has_next_attempt"
        ),
        sa.ForeignKeyConstraint(
            ["webhook_id"], ["webhooks.id"], name="fk_webhook_deliveries_webhook_id_webhooks", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["outbox_events.id"], name="fk_webhook_deliveries_event_id_outbox_events", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
        sa.UniqueConstraint("webhook_id", "event_id", name="uq_webhook_deliveries_webhook_id_event_id"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_at"],
        postgresql_where=PENDING,
        sqlite_where=PENDING,
    )
    op.create_index(
        "ix_webhook_deliveries_order",
        "webhook_deliveries",
        ["webhook_id", "task_log_id", "event_id"],
        postgresql_where=PENDING,
        sqlite_where=PENDING,
    )
    op.create_index("ix_webhook_deliveries_webhook_id_status_id", "webhook_deliveries", ["webhook_id", "status", "id"])
    op.create_index("ix_webhook_deliveries_event_id", "webhook_deliveries", ["event_id"])


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_table("outbox_events")
    op.drop_table("webhooks")
