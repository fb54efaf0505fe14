"""A member's interests on their own row, for segments; the member list by name and its searches

- members.interest_topics: the topics of the member's interests, each between newlines ("\ngreen tea\nmatcha\n",
  "" for none), written with the interests by `loyalty.members.write_interests` alone; a segment's interest test
  is then a pattern on the member's row instead of a semi-join with member_interests (bench/segment_count).
  Filled here from the interests already kept.
- member_interests.merchant_id (the member's) and ix_member_interests_merchant_topic (merchant_id, topic): the topics
  a merchant's members like, counted for the segment filter's choices from the index alone, not by a join with
  members; it replaces ix_member_interests_topic_member, which segments read before.
- PostgreSQL only (SQLite scans a merchant's members): ix_members_merchant_name (merchant_id, unnamed last, name, id),
  the member list by name read as a range from any page's boundary (`models.member.NAME_ORDER`; names change
  rarely, so purchases still update members in place); the pg_trgm extension and trigram indexes on members' names
  and phones, which the list's search by a part of a name or the last digits of a phone reads (`ILIKE '%ember
  4242%'`, `LIKE '%4242'`) instead of scanning the merchant's members.

Revision ID: 0024
Revises: 0026
"""
import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0026"
branch_labels = None
depends_on = None

SEPARATOR = "\n"
BY_NAME = ("ix_members_merchant_name", ["merchant_id", sa.text("(name IS NULL)"), sa.text("coalesce(name, '')"), "id"])
OLD_TOPICS = "ix_member_interests_topic_member"
TOPICS = ("ix_member_interests_merchant_topic", ["merchant_id", "topic"])
TRIGRAMS = {"ix_members_name_trigrams": "name", "ix_members_phone_trigrams": "phone"}


MEMBERS = sa.table("members", sa.column("id", sa.Integer), sa.column("merchant_id", sa.Integer),
                   sa.column("interest_topics", sa.Text))
INTERESTS = sa.table("member_interests", sa.column("member_id", sa.Integer), sa.column("merchant_id", sa.Integer),
                     sa.column("topic", sa.String))


def upgrade() -> None:
    with op.batch_alter_table("members") as table:
        table.add_column(sa.Column("interest_topics", sa.Text(), server_default="", nullable=False))
    listed = (sa.select(sa.func.aggregate_strings(INTERESTS.c.topic, SEPARATOR))
              .where(INTERESTS.c.member_id == MEMBERS.c.id).scalar_subquery())
    op.execute(MEMBERS.update().where(MEMBERS.c.id.in_(sa.select(INTERESTS.c.member_id)))
               .values(interest_topics=sa.literal(SEPARATOR, sa.Text) + listed + SEPARATOR))
    with op.batch_alter_table("member_interests") as table:
        table.add_column(sa.Column("merchant_id", sa.Integer(), nullable=True))
    op.execute(INTERESTS.update().values(merchant_id=sa.select(MEMBERS.c.merchant_id)
                                         .where(MEMBERS.c.id == INTERESTS.c.member_id).scalar_subquery()))
    with op.batch_alter_table("member_interests") as table:
        table.alter_column("merchant_id", existing_type=sa.Integer(), nullable=False)
        table.create_foreign_key(op.f("fk_member_interests_merchant_id_merchants"), "merchants", ["merchant_id"], ["id"])
        table.drop_index(OLD_TOPICS)
        table.create_index(*TOPICS)
    if op.get_bind().dialect.name == "postgresql":
        op.create_index(BY_NAME[0], "members", BY_NAME[1])
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name, column in TRIGRAMS.items():
            op.create_index(name, "members", [column], postgresql_using="gin", postgresql_ops={column: "gin_trgm_ops"})


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in (BY_NAME[0], *TRIGRAMS):
            op.drop_index(name, table_name="members")
    with op.batch_alter_table("member_interests") as table:
        table.drop_index(TOPICS[0])
        table.create_index(OLD_TOPICS, ["topic", "member_id"])
        table.drop_constraint(op.f("fk_member_interests_merchant_id_merchants"), type_="foreignkey")
        table.drop_column("merchant_id")
    with op.batch_alter_table("members") as table:
        table.drop_column("interest_topics")
