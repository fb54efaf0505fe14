"""A campaign's return rates, kept once its return window has closed (issue 22, Home)

- campaigns.recipient_members, recipients_returned, holdout_members, holdout_returned (new): the recipients and the
  holdout, and how many of each bought in the return window, as `smscrm.marketing.reports.outcome` counted them
  once the window had closed (they cannot change then); None before. The report and Home read them from here
  instead of joining some 100,000 members to the purchases of the window again.

Revision ID: 0023
Revises: 0019
"""
import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0019"
branch_labels = None
depends_on = None

KEPT = ("recipient_members", "recipients_returned", "holdout_members", "holdout_returned")


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as table:
        for name in KEPT:
            table.add_column(sa.Column(name, sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as table:
        for name in reversed(KEPT):
            table.drop_column(name)
