"""A reward's name in Chinese texts, and the year of a member's birthday when they give it

- rewards.name_zh: the reward's name for Chinese members (None: its name); `兑换 <name>` finds it.
- members.birth_year: `BDAY 1990-03-08` / `生日 1990年3月8日` keeps the year (None: not given).

Revision ID: 0016
Revises: 0015
"""
import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rewards") as table:
        table.add_column(sa.Column("name_zh", sa.String(length=80), nullable=True))
    with op.batch_alter_table("members") as table:
        table.add_column(sa.Column("birth_year", sa.SmallInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("members") as table:
        table.drop_column("birth_year")
    with op.batch_alter_table("rewards") as table:
        table.drop_column("name_zh")
