"""The ledger's credits by time (issue 22: the calendar with a real ledger)

- ix_points_entries_merchant_credits_created (new, partial: points > 0): a merchant's credits of a span of time.
  Points expiring selects the members who earned in the days before the expiry cutoff; without it every day of
  the calendar (and each evaluation) read the whole ledger twice.

Revision ID: 0028
Revises: 0027
"""
import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_points_entries_merchant_credits_created", "points_entries", ["merchant_id", "created_at"],
                    postgresql_where=sa.text("points > 0"), sqlite_where=sa.text("points > 0"))


def downgrade() -> None:
    op.drop_index("ix_points_entries_merchant_credits_created", table_name="points_entries")
