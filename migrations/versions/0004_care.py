"""care rules, touches and holdouts, class marks, visit surveys and the inbox; members by join day and birthday

Revision ID: 0004
Revises: 0002 (visit surveys refer to purchases)
"""
import sqlalchemy as sa
from alembic import op

import smscrm.db.types

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_members_merchant_joined", "members", ["merchant_id", "joined_at"], unique=False)
    op.create_index(
        "ix_members_merchant_birthday", "members", ["merchant_id", "birthday_month", "birthday_day"], unique=False
    )
    op.create_table(
        "care_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("holiday", sa.String(length=80), nullable=False),
        sa.Column("is_enabled", sa.Boolean(), nullable=False),
        sa.Column("texts", sa.JSON(), nullable=False),
        sa.Column("bonus_points", sa.Integer(), nullable=False),
        sa.Column("send_hour", sa.SmallInteger(), nullable=True),
        sa.Column("delay_hours", sa.Integer(), nullable=True),
        sa.Column("days", sa.Integer(), nullable=True),
        sa.Column("value_class", sa.String(length=1), nullable=True),
        sa.Column("holdout_pct", sa.SmallInteger(), nullable=False),
        sa.Column("grace_hours", sa.Integer(), nullable=False),
        sa.Column("evaluated_through", smscrm.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resume_after", sa.Integer(), nullable=True),
        sa.Column("created_at", smscrm.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", smscrm.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"], name=op.f("fk_care_rules_merchant_id_merchants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_rules")),
        sa.UniqueConstraint("merchant_id", "kind", "holiday", name=op.f("uq_care_rules_merchant_id_kind_holiday")),
    )
    op.create_table(
        "care_class_marks",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("value_class", sa.String(length=1), nullable=True),
        sa.Column("seen_at", smscrm.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_care_class_marks_member_id_members")),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_care_class_marks_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_care_class_marks")),
    )
    op.create_index(op.f("ix_care_class_marks_merchant_id"), "care_class_marks", ["merchant_id"], unique=False)
    op.create_table(
        "care_touches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("dedupe_key", sa.String(length=120), nullable=False),
        sa.Column("is_holdout", sa.Boolean(), nullable=False),
        sa.Column("created_at", smscrm.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_care_touches_member_id_members")),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"], name=op.f("fk_care_touches_merchant_id_merchants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_touches")),
        sa.UniqueConstraint("merchant_id", "dedupe_key", name=op.f("uq_care_touches_merchant_id_dedupe_key")),
    )
    op.create_index(
        "ix_care_touches_merchant_purpose_created", "care_touches", ["merchant_id", "purpose", "created_at"],
        unique=False,
    )
    op.create_table(
        "visit_surveys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("purchase_id", sa.Integer(), nullable=False),
        sa.Column("asked_at", smscrm.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("rating", sa.SmallInteger(), nullable=True),
        sa.Column("rated_at", smscrm.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_visit_surveys_member_id_members")),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"], name=op.f("fk_visit_surveys_merchant_id_merchants")),
        sa.ForeignKeyConstraint(
            ["purchase_id"], ["purchases.id"], name=op.f("fk_visit_surveys_purchase_id_purchases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_surveys")),
        sa.UniqueConstraint("purchase_id", name=op.f("uq_visit_surveys_purchase_id")),
    )
    op.create_index("ix_visit_surveys_member_asked", "visit_surveys", ["member_id", "asked_at"], unique=False)
    op.create_table(
        "inbox_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("is_urgent", sa.Boolean(), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=True),
        sa.Column("opened_at", smscrm.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_message_at", smscrm.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("first_response_at", smscrm.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", smscrm.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_inbox_items_member_id_members")),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"], name=op.f("fk_inbox_items_merchant_id_merchants")),
        sa.ForeignKeyConstraint(
            ["resolved_by_id"], ["staff_users.id"], name=op.f("fk_inbox_items_resolved_by_id_staff_users")
        ),
        sa.ForeignKeyConstraint(
            ["survey_id"], ["visit_surveys.id"], name=op.f("fk_inbox_items_survey_id_visit_surveys")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox_items")),
    )
    op.create_index(op.f("ix_inbox_items_member_id"), "inbox_items", ["member_id"], unique=False)
    op.create_index(
        "ix_inbox_items_merchant_open", "inbox_items", ["merchant_id", "resolved_at", "last_message_at"], unique=False
    )
    op.create_index("ix_inbox_items_merchant_phone", "inbox_items", ["merchant_id", "phone"], unique=False)
    op.create_table(
        "inbox_replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("staff_user_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("created_at", smscrm.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["inbox_items.id"], name=op.f("fk_inbox_replies_item_id_inbox_items")),
        sa.ForeignKeyConstraint(
            ["message_id"], ["outbound_messages.id"], name=op.f("fk_inbox_replies_message_id_outbound_messages")
        ),
        sa.ForeignKeyConstraint(
            ["staff_user_id"], ["staff_users.id"], name=op.f("fk_inbox_replies_staff_user_id_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox_replies")),
    )
    op.create_index(op.f("ix_inbox_replies_item_id"), "inbox_replies", ["item_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_inbox_replies_item_id"), table_name="inbox_replies")
    op.drop_table("inbox_replies")
    op.drop_index("ix_inbox_items_merchant_phone", table_name="inbox_items")
    op.drop_index("ix_inbox_items_merchant_open", table_name="inbox_items")
    op.drop_index(op.f("ix_inbox_items_member_id"), table_name="inbox_items")
    op.drop_table("inbox_items")
    op.drop_index("ix_visit_surveys_member_asked", table_name="visit_surveys")
    op.drop_table("visit_surveys")
    op.drop_index("ix_care_touches_merchant_purpose_created", table_name="care_touches")
    op.drop_table("care_touches")
    op.drop_index(op.f("ix_care_class_marks_merchant_id"), table_name="care_class_marks")
    op.drop_table("care_class_marks")
    op.drop_table("care_rules")
    op.drop_index("ix_members_merchant_birthday", table_name="members")
    op.drop_index("ix_members_merchant_joined", table_name="members")
