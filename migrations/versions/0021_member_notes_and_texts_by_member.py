"""A member's notes; their texts by member for the member page's timeline; consent in person needs no change

- members.notes: what the staff want to remember about a member (edited on the member page).
- ix_inbound_messages_member_received (member_id, received_at), only for texts from members: the member
  page's timeline reads a member's latest texts; a stranger's text writes no entry.

Revision ID: 0021
Revises: 0015
"""
import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0015"
branch_labels = None
depends_on = None

TEXTS_BY_MEMBER = ("ix_inbound_messages_member_received", ["member_id", "received_at"])


def upgrade() -> None:
    with op.batch_alter_table("members") as table:
        table.add_column(sa.Column("notes", sa.String(length=1000), nullable=True))
    is_set = sa.text("member_id IS NOT NULL")
    with op.batch_alter_table("inbound_messages") as table:
        table.create_index(*TEXTS_BY_MEMBER, postgresql_where=is_set, sqlite_where=is_set)


def downgrade() -> None:
    with op.batch_alter_table("inbound_messages") as table:
        table.drop_index(TEXTS_BY_MEMBER[0])
    with op.batch_alter_table("members") as table:
        table.drop_column("notes")
