"""Texts answered at once write only the index entries something reads

An inbound BAL wrote seven index entries and a JOIN fourteen; most were never read.
- ix_outbound_messages_due_category (status, category, send_after) indexed every outbound text, though the
  delivery worker only looks up the rows waiting (queued) and in flight (sending). It now holds those rows
  alone: a reply (answered in the webhook's TwiML) writes no entry, a sent text leaves the index, and the
  index stays the size of the queue instead of the whole history.
- ix_outbound_messages_member_created (member_id, created_at) serves the texts we chose to send a member
  (the weekly cap, join invitations), never the replies to their texts: replies are left out.
- ix_inbound_messages_merchant_intent (merchant_id, intent, received_at) serves the inbox, which lists
  feedback and ratings only: keywords (JOIN, BAL, ...) are left out.
- ix_inbound_messages_member_id and ix_consent_events_member_id are dropped: no query looks a member's
  texts or consent up by member id, and members are never deleted.

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

PARTIAL = [  # (table, name, columns, the rows indexed)
    ("outbound_messages", "ix_outbound_messages_due_category", ["status", "category", "send_after"],
     "status = 'queued' OR status = 'sending'"),
    ("outbound_messages", "ix_outbound_messages_member_created", ["member_id", "created_at"], "category != 'reply'"),
    ("inbound_messages", "ix_inbound_messages_merchant_intent", ["merchant_id", "intent", "received_at"],
     "intent = 'feedback' OR intent = 'rating'"),
]
DROPPED = [
    ("inbound_messages", "ix_inbound_messages_member_id", ["member_id"]),
    ("consent_events", "ix_consent_events_member_id", ["member_id"]),
]


def upgrade() -> None:
    for table, name, columns, rows in PARTIAL:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns, postgresql_where=sa.text(rows), sqlite_where=sa.text(rows))
    for table, name, _columns in DROPPED:
        op.drop_index(name, table_name=table)


def downgrade() -> None:
    for table, name, columns in DROPPED:
        op.create_index(name, table, columns)
    for table, name, columns, _rows in PARTIAL:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns)
