"""A staff user's language of the merchant pages (None: their merchant's)

Revision ID: 0015
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_users") as table:
        table.add_column(sa.Column("language", sa.String(length=2), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("staff_users") as table:
        table.drop_column("language")
