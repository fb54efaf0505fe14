"""Fewer index entries per text: drop the outbox's unused due index; index only keyed texts and known birthdays

- ix_outbound_messages_due (status, send_after) was the delivery worker's claim index until 0005 added
  ix_outbound_messages_due_category (status, category, send_after). Every query that could use the first
  (the claims, the rows in flight by status) is served by the second, and every outbound text wrote both.
- uq_outbound_messages_merchant_id_dedupe_key indexed every text, though only care, campaign and referral
  texts have a key: replies and one-off texts wrote an entry no conflict check reads. It is now a unique
  partial index of the keyed rows (`ON CONFLICT` names its predicate: models.message.DEDUPE_CONFLICT).
- ix_members_merchant_birthday indexed every member, though only those who texted a birthday have one:
  a joining shopper wrote an entry no birthday lookup reads.

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

DEDUPE = ("uq_outbound_messages_merchant_id_dedupe_key", ["merchant_id", "dedupe_key"])
BIRTHDAY = ("ix_members_merchant_birthday", ["merchant_id", "birthday_month", "birthday_day"])


def _where_set(column: str) -> dict:
    is_set = sa.text(f"{column} IS NOT NULL")
    return {"postgresql_where": is_set, "sqlite_where": is_set}


def upgrade() -> None:
    with op.batch_alter_table("outbound_messages") as batch_op:
        batch_op.drop_index("ix_outbound_messages_due")
        batch_op.drop_constraint(DEDUPE[0], type_="unique")
        batch_op.create_index(*DEDUPE, unique=True, **_where_set("dedupe_key"))
    with op.batch_alter_table("members") as batch_op:
        batch_op.drop_index(BIRTHDAY[0])
        batch_op.create_index(*BIRTHDAY, **_where_set("birthday_month"))


def downgrade() -> None:
    with op.batch_alter_table("members") as batch_op:
        batch_op.drop_index(BIRTHDAY[0])
        batch_op.create_index(*BIRTHDAY)
    with op.batch_alter_table("outbound_messages") as batch_op:
        batch_op.drop_index(DEDUPE[0])
        batch_op.create_unique_constraint(*DEDUPE)
        batch_op.create_index("ix_outbound_messages_due", ["status", "send_after"])
