"""The replies a phone gets once a day are found by phone

A feedback text or a stranger's text is acknowledged at most once a day: the webhook asks whether the phone got
that reply today. Nothing indexed the outbox by phone, so the question read every text of the merchant's outbox,
and a campaign to a million members made each such text read a million rows (bench/busy_hour: the webhook fell
to a dozen texts a second). ix_outbound_messages_once_a_day holds those replies alone (feedback_ack, join_hint),
by merchant, phone and time: no other text writes an entry.

Revision ID: 0019
Revises: 0015
"""
import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0015"
branch_labels = None
depends_on = None

ROWS = "purpose = 'feedback_ack' OR purpose = 'join_hint'"


def upgrade() -> None:
    op.create_index(
        "ix_outbound_messages_once_a_day", "outbound_messages", ["merchant_id", "to_phone", "created_at"],
        postgresql_where=sa.text(ROWS), sqlite_where=sa.text(ROWS),
    )


def downgrade() -> None:
    op.drop_index("ix_outbound_messages_once_a_day", table_name="outbound_messages")
