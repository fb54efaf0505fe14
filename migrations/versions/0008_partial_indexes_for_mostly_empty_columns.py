"""Index only the rows that have a value: the outbox's provider id and campaign, a ledger entry's purchase
and redemption

Most rows leave these columns empty: a text has no provider id until it is sent and no campaign unless
a campaign sent it, and an entry points to a purchase or a redemption, never both. Every such row wrote
an index entry that no lookup reads; a lookup by a value finds the same rows in the partial index.
(uq_outbound_messages_provider_sid was a unique constraint; it is now a unique partial index.)

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

PARTIAL = {  # table: [(index, columns, unique)]
    "outbound_messages": [
        ("ix_outbound_messages_campaign_status", ["campaign_id", "status"], False),
        ("uq_outbound_messages_provider_sid", ["provider_sid"], True),
    ],
    "points_entries": [
        ("ix_points_entries_purchase_id", ["purchase_id"], False),
        ("ix_points_entries_redemption_id", ["redemption_id"], False),
    ],
}


def _where_set(column: str) -> dict:
    is_set = sa.text(f"{column} IS NOT NULL")
    return {"postgresql_where": is_set, "sqlite_where": is_set}


def upgrade() -> None:
    for table, indexes in PARTIAL.items():
        with op.batch_alter_table(table) as batch_op:
            for name, columns, unique in indexes:
                if unique:
                    batch_op.drop_constraint(name, type_="unique")
                else:
                    batch_op.drop_index(name)
                batch_op.create_index(name, columns, unique=unique, **_where_set(columns[0]))


def downgrade() -> None:
    for table, indexes in PARTIAL.items():
        with op.batch_alter_table(table) as batch_op:
            for name, columns, unique in indexes:
                batch_op.drop_index(name)
                if unique:
                    batch_op.create_unique_constraint(name, columns)
                else:
                    batch_op.create_index(name, columns, unique=False)
