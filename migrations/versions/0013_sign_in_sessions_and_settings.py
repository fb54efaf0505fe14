"""Sessions that end on the server, staff that can be deactivated, and the merchant's Chinese name

- staff_users.session_epoch: every signed-in session carries it; signing out and a new password raise it, so a
  replayed cookie from before is refused.
- staff_users.deactivated_at: an owner deactivates a staff login; it can no longer sign in.
- merchants.name_zh: the merchant's name in Chinese texts (the settings page edits it). The `texts` branch
  adds the same column in its 0011: the merger keeps one of the two.

Revision ID: 0013
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

import smscrm.db.types

revision = "0013"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_users") as batch:
        batch.add_column(sa.Column("session_epoch", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("deactivated_at", smscrm.db.types.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("merchants") as batch:
        batch.add_column(sa.Column("name_zh", sa.String(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("merchants") as batch:
        batch.drop_column("name_zh")
    with op.batch_alter_table("staff_users") as batch:
        batch.drop_column("deactivated_at")
        batch.drop_column("session_epoch")
