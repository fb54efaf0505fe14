"""A member's interests on their own row, for segments; the member list by name and its searches

- members.interest_topics: the topics of the member's interests, each between newlines ("\ngreen tea\nmatcha\n",
  "" for none), written with the interests by `loyalty.members.write_interests` alone; a segment's interest test
  is then a pattern on the member's row instead of a semi-join with member_interests (bench/segment_count).
  Filled here from the interests already kept.
- PostgreSQL only (SQLite scans a merchant's members): ix_members_merchant_name (merchant_id, unnamed last, name, id),
  the member list by name read as a range from any page's boundary (`models.member.NAME_ORDER`; names change
  rarely, so purchases still update members in place); the pg_trgm extension and trigram indexes on members' names
  and phones, which the list's search by a part of a name or the last digits of a phone reads (`ILIKE '%ember
  4242%'`, `LIKE '%4242'`) instead of scanning the merchant's members.

Revision ID: 0024
Revises: 0019
"""
import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0019"
branch_labels = None
depends_on = None

SEPARATOR = "\n"
BY_NAME = ("ix_members_merchant_name", ["merchant_id", sa.text("(name IS NULL)"), sa.text("coalesce(name, '')"), "id"])
TRIGRAMS = {"ix_members_name_trigrams": "name", "ix_members_phone_trigrams": "phone"}


def upgrade() -> None:
    with op.batch_alter_table("members") as table:
        table.add_column(sa.Column("interest_topics", sa.Text(), server_default="", nullable=False))
    members = sa.table("members", sa.column("id", sa.Integer), sa.column("interest_topics", sa.Text))
    interests = sa.table("member_interests", sa.column("member_id", sa.Integer), sa.column("topic", sa.String))
    listed = (sa.select(sa.func.aggregate_strings(interests.c.topic, SEPARATOR))
              .where(interests.c.member_id == members.c.id).scalar_subquery())
    op.execute(members.update().where(members.c.id.in_(sa.select(interests.c.member_id)))
               .values(interest_topics=sa.literal(SEPARATOR, sa.Text) + listed + SEPARATOR))
    if op.get_bind().dialect.name == "postgresql":
        op.create_index(BY_NAME[0], "members", BY_NAME[1])
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name, column in TRIGRAMS.items():
            op.create_index(name, "members", [column], postgresql_using="gin", postgresql_ops={column: "gin_trgm_ops"})


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in (BY_NAME[0], *TRIGRAMS):
            op.drop_index(name, table_name="members")
    with op.batch_alter_table("members") as table:
        table.drop_column("interest_topics")
