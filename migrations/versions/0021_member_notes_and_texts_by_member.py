"""A member's notes; the member list newest first; a member's texts for their page's timeline

- members.notes: what the staff want to remember about a member (edited on the member page).
- ix_members_merchant_created (merchant_id, created_at, id): the member list's default order, read as a range
  from any page's boundary (smscrm.loyalty.member_list); created_at never changes, so purchases (which update
  the points and visit columns) still update members in place.
- ix_inbound_messages_member_received (member_id, received_at), only for texts from members: the member
  page's timeline reads a member's latest texts; a stranger's text writes no entry.

Revision ID: 0021
Revises: 0022
"""
import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0022"
branch_labels = None
depends_on = None

TEXTS_BY_MEMBER = ("ix_inbound_messages_member_received", ["member_id", "received_at"])
NEWEST_FIRST = ("ix_members_merchant_created", ["merchant_id", "created_at", "id"])


def upgrade() -> None:
    with op.batch_alter_table("members") as table:
        table.add_column(sa.Column("notes", sa.String(length=1000), nullable=True))
        table.create_index(*NEWEST_FIRST)
    is_set = sa.text("member_id IS NOT NULL")
    with op.batch_alter_table("inbound_messages") as table:
        table.create_index(*TEXTS_BY_MEMBER, postgresql_where=is_set, sqlite_where=is_set)


def downgrade() -> None:
    with op.batch_alter_table("inbound_messages") as table:
        table.drop_index(TEXTS_BY_MEMBER[0])
    with op.batch_alter_table("members") as table:
        table.drop_index(NEWEST_FIRST[0])
        table.drop_column("notes")
