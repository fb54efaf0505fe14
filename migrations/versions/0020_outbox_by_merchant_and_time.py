"""The outbox by merchant and time: the dashboard's texts this month read one merchant's month, not the outbox

Revision ID: 0020
Revises: 0015
"""
from alembic import op

revision = "0020"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbound_messages_merchant_created", "outbound_messages", ["merchant_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_outbound_messages_merchant_created", table_name="outbound_messages")
