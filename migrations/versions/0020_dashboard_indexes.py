"""The dashboard (issue 22): each text's SMS parts, and indexes so that what Home reads is read from indexes

- outbound_messages.parts (new): the parts a text costs, counted when it is written; the texts already there are
  counted here with `smscrm.sending.parts.parts_sql`;
- the outbox by merchant and time, with kind, status and parts (new): a merchant's texts of the month from the
  index alone, not a scan of the outbox and a count of every text's parts;
- members by merchant and first visit (new): the members a return window judges;
- purchases by merchant and time, now with the member: the buyers of a campaign's return window from the index;
- the outbox by campaign and status, now with the member: a campaign's recipients from the index;
- the ratings by merchant and time (new; answered questions only): the ratings by month from the index.

Revision ID: 0020
Revises: 0016
"""
import sqlalchemy as sa
from alembic import op

from smscrm.sending.parts import parts_sql

revision = "0020"
down_revision = "0016"
branch_labels = None
depends_on = None

CAMPAIGN_SET = sa.text("campaign_id IS NOT NULL")
RATED = sa.text("rated_at IS NOT NULL")


def upgrade() -> None:
    op.add_column("outbound_messages", sa.Column("parts", sa.SmallInteger(), nullable=True))
    outbox = sa.table("outbound_messages", sa.column("body", sa.Text()), sa.column("parts", sa.SmallInteger()))
    op.execute(outbox.update().values(parts=parts_sql(outbox.c.body)))
    with op.batch_alter_table("outbound_messages") as table:
        table.alter_column("parts", existing_type=sa.SmallInteger(), nullable=False)
    op.create_index("ix_outbound_messages_merchant_created", "outbound_messages",
                    ["merchant_id", "created_at", "category", "status", "parts"])
    op.create_index("ix_members_merchant_first_visit", "members", ["merchant_id", "first_visit_at"])
    op.drop_index("ix_purchases_merchant_created", table_name="purchases")
    op.create_index("ix_purchases_merchant_created", "purchases", ["merchant_id", "created_at", "member_id"])
    op.drop_index("ix_outbound_messages_campaign_status", table_name="outbound_messages")
    op.create_index("ix_outbound_messages_campaign_status", "outbound_messages", ["campaign_id", "status", "member_id"],
                    postgresql_where=CAMPAIGN_SET, sqlite_where=CAMPAIGN_SET)
    op.create_index("ix_visit_surveys_merchant_rated", "visit_surveys", ["merchant_id", "rated_at", "rating"],
                    postgresql_where=RATED, sqlite_where=RATED)


def downgrade() -> None:
    op.drop_index("ix_visit_surveys_merchant_rated", table_name="visit_surveys")
    op.drop_index("ix_outbound_messages_campaign_status", table_name="outbound_messages")
    op.create_index("ix_outbound_messages_campaign_status", "outbound_messages", ["campaign_id", "status"],
                    postgresql_where=CAMPAIGN_SET, sqlite_where=CAMPAIGN_SET)
    op.drop_index("ix_purchases_merchant_created", table_name="purchases")
    op.create_index("ix_purchases_merchant_created", "purchases", ["merchant_id", "created_at"])
    op.drop_index("ix_members_merchant_first_visit", table_name="members")
    op.drop_index("ix_outbound_messages_merchant_created", table_name="outbound_messages")
    with op.batch_alter_table("outbound_messages") as table:
        table.drop_column("parts")
