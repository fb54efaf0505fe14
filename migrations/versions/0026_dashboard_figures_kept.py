"""Home's figures kept ahead of time (issue 22)

- dashboard_figures (new): one row per merchant, `smscrm.dashboard.Figures` as JSON with the moment they were
  counted and the moment Home last read them. Home reads them from here while they are fresh; the scheduler counts
  them again for the merchants who read them in the last 7 days (smscrm.dashboard_kept).

Revision ID: 0026
Revises: 0023
"""
import sqlalchemy as sa
from alembic import op

import smscrm.db.types

revision = "0026"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dashboard_figures",
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("computed_at", smscrm.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("read_at", smscrm.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"],
                                name=op.f("fk_dashboard_figures_merchant_id_merchants")),
        sa.PrimaryKeyConstraint("merchant_id", name=op.f("pk_dashboard_figures")),
    )


def downgrade() -> None:
    op.drop_table("dashboard_figures")
