"""members: drop ix_members_merchant_id, which every index on (merchant_id, …) already serves

Every joining shopper and every pending member wrote one more index entry for nothing: the unique
(merchant_id, phone) and (merchant_id, referral_code) indexes and the (merchant_id, joined_at) and
(merchant_id, birthday_month, birthday_day) indexes all begin with merchant_id.

Revision ID: 0007
Revises: 0006
"""
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("members") as batch_op:
        batch_op.drop_index("ix_members_merchant_id")


def downgrade() -> None:
    with op.batch_alter_table("members") as batch_op:
        batch_op.create_index("ix_members_merchant_id", ["merchant_id"], unique=False)
