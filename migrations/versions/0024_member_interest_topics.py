"""A member's interests on their own row, for segments

- members.interest_topics: the topics of the member's interests, each between newlines ("\ngreen tea\nmatcha\n",
  "" for none), written with the interests by `loyalty.members.write_interests` alone; a segment's interest test
  is then a pattern on the member's row instead of a semi-join with member_interests (bench/segment_count).
  Filled here from the interests already kept.

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


def upgrade() -> None:
    with op.batch_alter_table("members") as table:
        table.add_column(sa.Column("interest_topics", sa.Text(), server_default="", nullable=False))
    members = sa.table("members", sa.column("id", sa.Integer), sa.column("interest_topics", sa.Text))
    interests = sa.table("member_interests", sa.column("member_id", sa.Integer), sa.column("topic", sa.String))
    listed = (sa.select(sa.func.aggregate_strings(interests.c.topic, SEPARATOR))
              .where(interests.c.member_id == members.c.id).scalar_subquery())
    op.execute(members.update().where(members.c.id.in_(sa.select(interests.c.member_id)))
               .values(interest_topics=sa.literal(SEPARATOR, sa.Text) + listed + SEPARATOR))


def downgrade() -> None:
    with op.batch_alter_table("members") as table:
        table.drop_column("interest_topics")
