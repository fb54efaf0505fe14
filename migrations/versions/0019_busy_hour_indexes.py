"""The busy hour's indexes: the queue in claim order, and the replies a phone gets once a day by phone

Found by bench/busy_hour, a campaign to a million members sent while shoppers text in:
- ix_outbound_messages_due_category gains `id`. A claim takes the longest-due rows of one category
  (ORDER BY send_after, id LIMIT n); with every row of a campaign due at the same moment, an index ending at
  send_after left PostgreSQL to sort the whole queue for each claim (a second apiece at a million rows). With
  id the index hands the rows over in order and the claim stops at its limit.
- ix_outbound_messages_once_a_day: a feedback text or a stranger's is acknowledged at most once a day, and the
  webhook asks whether the phone got that reply today. Nothing indexed the outbox by phone, so the question
  read the merchant's whole outbox, a million campaign texts. The index holds those replies alone
  (feedback_ack, join_hint), by merchant, phone and time: no other text writes an entry.

Revision ID: 0019
Revises: 0021
"""
import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0021"
branch_labels = None
depends_on = None

QUEUE = "ix_outbound_messages_due_category"
QUEUE_ROWS = "status = 'queued' OR status = 'sending'"
ONCE_A_DAY = "ix_outbound_messages_once_a_day"
ONCE_A_DAY_ROWS = "purpose = 'feedback_ack' OR purpose = 'join_hint'"


def _queue_index(columns: list[str]) -> None:
    op.drop_index(QUEUE, table_name="outbound_messages")
    op.create_index(QUEUE, "outbound_messages", columns, postgresql_where=sa.text(QUEUE_ROWS),
                    sqlite_where=sa.text(QUEUE_ROWS))


def upgrade() -> None:
    _queue_index(["status", "category", "send_after", "id"])
    op.create_index(ONCE_A_DAY, "outbound_messages", ["merchant_id", "to_phone", "created_at"],
                    postgresql_where=sa.text(ONCE_A_DAY_ROWS), sqlite_where=sa.text(ONCE_A_DAY_ROWS))


def downgrade() -> None:
    op.drop_index(ONCE_A_DAY, table_name="outbound_messages")
    _queue_index(["status", "category", "send_after"])
