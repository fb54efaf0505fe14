"""The moment a member is at risk by their own rhythm, on their row (issue 22)

- members.at_risk_from: twice the member's typical gap between visits after their last visit (NULL without a
  gap), a generated column: the database writes it whenever last_visit_at or typical_visit_gap_days change (a
  purchase, the nightly recompute, any later writer), and here for the rows already kept. The at-risk segment
  filter then compares it with `now` instead of converting each row's times (bench/segment_count). The
  expression is the model's (`smscrm.db.sqltime.days_after`) as each database gives it back: the migrations test
  compares them.
- PostgreSQL stores it, rewriting the members table once (ALTER TABLE … ADD COLUMN … STORED). SQLite cannot add a
  stored generated column to a table, nor copy a table others refer to with foreign keys on: it computes this one
  when read (VIRTUAL). A later batch migration that copies the members table on SQLite must leave the column out
  of the copy (SQLite refuses to INSERT into it): drop it first and add it back.

Revision ID: 0027
Revises: 0024
"""
import sqlalchemy as sa
from alembic import op

import smscrm.db.types

revision = "0027"
down_revision = "0024"
branch_labels = None
depends_on = None

AT_RISK_FROM = {
    "postgresql": "timezone('UTC'::text, (timezone('UTC'::text, last_visit_at)"
                  " + (typical_visit_gap_days * '48:00:00'::interval)))",
    "sqlite": "strftime('%Y-%m-%d %H:%M:%f000', julianday(last_visit_at) + 2 * typical_visit_gap_days)",
}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table("members") as table:
        table.add_column(sa.Column("at_risk_from", smscrm.db.types.UTCDateTime(timezone=True), sa.Computed(
            AT_RISK_FROM[dialect], persisted=dialect == "postgresql"), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("members") as table:
        table.drop_column("at_risk_from")
