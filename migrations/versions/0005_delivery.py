"""delivery at scale: quiet-hour deferrals and skip reasons on the outbox, shared send-rate buckets,
status reports that arrive before their sid is stored

Revision ID: 0005
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

import smscrm.db.types

revision = "0005"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbound_messages") as batch_op:
        batch_op.add_column(sa.Column("deferrals", sa.SmallInteger(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("skip_reason", sa.String(length=32), nullable=True))
        batch_op.create_index("ix_outbound_messages_due_category", ["status", "category", "send_after"])
    op.create_table(
        "send_rate_buckets",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("refilled_at", smscrm.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_send_rate_buckets")),
    )
    op.create_table(
        "early_status_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_sid", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("reported_at", smscrm.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_early_status_reports")),
    )
    op.create_index(
        op.f("ix_early_status_reports_provider_sid"), "early_status_reports", ["provider_sid"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_early_status_reports_provider_sid"), table_name="early_status_reports")
    op.drop_table("early_status_reports")
    op.drop_table("send_rate_buckets")
    with op.batch_alter_table("outbound_messages") as batch_op:
        batch_op.drop_index("ix_outbound_messages_due_category")
        batch_op.drop_column("skip_reason")
        batch_op.drop_column("deferrals")
