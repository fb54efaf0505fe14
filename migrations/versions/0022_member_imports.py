"""Member imports: the files, their staging rows and tags; consent events name the import whose statement is their
evidence

Revision ID: 0022
Revises: 0020
"""
import sqlalchemy as sa
from alembic import op

import smscrm.db.types

revision = "0022"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "member_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("checked_rows", sa.Integer(), nullable=False),
        sa.Column("rejected_rows", sa.Integer(), nullable=False),
        sa.Column("merged_rows", sa.Integer(), nullable=False),
        sa.Column("created_members", sa.Integer(), nullable=False),
        sa.Column("updated_members", sa.Integer(), nullable=False),
        sa.Column("invited_members", sa.Integer(), nullable=False),
        sa.Column("consent_statement", sa.Text(), nullable=True),
        sa.Column("failure", sa.String(length=255), nullable=True),
        sa.Column("uploaded_by", sa.Integer(), nullable=False),
        sa.Column("confirmed_by", sa.Integer(), nullable=True),
        sa.Column("created_at", smscrm.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("check_started_at", smscrm.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("confirmed_at", smscrm.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", smscrm.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"], name=op.f("fk_member_imports_merchant_id_merchants")),
        sa.ForeignKeyConstraint(["uploaded_by"], ["staff_users.id"], name=op.f("fk_member_imports_uploaded_by_staff_users")),
        sa.ForeignKeyConstraint(
            ["confirmed_by"], ["staff_users.id"], name=op.f("fk_member_imports_confirmed_by_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_imports")),
    )
    op.create_index(op.f("ix_member_imports_merchant_id"), "member_imports", ["merchant_id"], unique=False)
    op.create_table(
        "member_import_rows",
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("written", sa.String(length=40), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("name", sa.String(length=80), nullable=True),
        sa.Column("language", sa.String(length=2), nullable=True),
        sa.Column("birthday_month", sa.SmallInteger(), nullable=True),
        sa.Column("birthday_day", sa.SmallInteger(), nullable=True),
        sa.Column("rejection", sa.String(length=16), nullable=True),
        sa.Column("merged_into", sa.Integer(), nullable=True),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("is_new", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_id"], ["member_imports.id"], name=op.f("fk_member_import_rows_import_id_member_imports")
        ),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_member_import_rows_member_id_members")),
        sa.PrimaryKeyConstraint("import_id", "line", name=op.f("pk_member_import_rows")),
    )
    op.create_table(
        "member_import_tags",
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_id"], ["member_imports.id"], name=op.f("fk_member_import_tags_import_id_member_imports")
        ),
        sa.PrimaryKeyConstraint("import_id", "line", "topic", name=op.f("pk_member_import_tags")),
    )
    with op.batch_alter_table("consent_events") as batch:
        batch.add_column(sa.Column("import_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_consent_events_import_id_member_imports"), "member_imports", ["import_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("consent_events") as batch:
        batch.drop_constraint(op.f("fk_consent_events_import_id_member_imports"), type_="foreignkey")
        batch.drop_column("import_id")
    op.drop_table("member_import_tags")
    op.drop_table("member_import_rows")
    op.drop_index(op.f("ix_member_imports_merchant_id"), table_name="member_imports")
    op.drop_table("member_imports")
