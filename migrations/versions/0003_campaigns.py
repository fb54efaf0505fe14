"""segments, campaigns, holdouts; campaign rows in the outbox; merchants' campaign settings

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-25 10:00:00
"""
import sqlalchemy as sa
from alembic import op

import smscrm.db.types

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "segments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("exclude_segment_id", sa.Integer(), nullable=True),
        sa.Column("is_saved", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", smscrm.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", smscrm.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["exclude_segment_id"], ["segments.id"], name=op.f("fk_segments_exclude_segment_id_segments")
        ),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"], name=op.f("fk_segments_merchant_id_merchants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segments")),
    )
    op.create_index(op.f("ix_segments_merchant_id"), "segments", ["merchant_id"])
    op.create_index(op.f("ix_segments_exclude_segment_id"), "segments", ["exclude_segment_id"])
    op.create_index("ix_member_interests_topic_member", "member_interests", ["topic", "member_id"])

    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("segment_id", sa.Integer(), nullable=True),
        sa.Column("text_en", sa.Text(), nullable=True),
        sa.Column("text_zh", sa.Text(), nullable=True),
        sa.Column("holdout_pct", sa.SmallInteger(), nullable=False),
        sa.Column("return_window_days", sa.SmallInteger(), nullable=False),
        sa.Column("scheduled_at", smscrm.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("started_at", smscrm.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("paused_at", smscrm.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", smscrm.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("audience", sa.JSON(), nullable=True),
        sa.Column("matched_count", sa.Integer(), nullable=True),
        sa.Column("not_joined_count", sa.Integer(), nullable=True),
        sa.Column("opted_out_count", sa.Integer(), nullable=True),
        sa.Column("holdout_count", sa.Integer(), nullable=True),
        sa.Column("duplicate_count", sa.Integer(), nullable=True),
        sa.Column("queued_count", sa.Integer(), nullable=True),
        sa.Column("created_at", smscrm.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", smscrm.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"], name=op.f("fk_campaigns_merchant_id_merchants")),
        sa.ForeignKeyConstraint(["segment_id"], ["segments.id"], name=op.f("fk_campaigns_segment_id_segments")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    op.create_index(op.f("ix_campaigns_merchant_id"), "campaigns", ["merchant_id"])
    op.create_index(op.f("ix_campaigns_segment_id"), "campaigns", ["segment_id"])

    op.create_table(
        "campaign_holdouts",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_campaign_holdouts_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_campaign_holdouts_member_id_members")),
        sa.PrimaryKeyConstraint("campaign_id", "member_id", name=op.f("pk_campaign_holdouts")),
    )
    op.create_index(op.f("ix_campaign_holdouts_member_id"), "campaign_holdouts", ["member_id"])

    with op.batch_alter_table("outbound_messages") as batch_op:
        batch_op.add_column(sa.Column("campaign_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_outbound_messages_campaign_id_campaigns"), "campaigns", ["campaign_id"], ["id"]
        )
        batch_op.create_index("ix_outbound_messages_campaign_status", ["campaign_id", "status"])

    with op.batch_alter_table("merchants") as batch_op:
        batch_op.add_column(sa.Column("sending_window_opens", sa.Time(), server_default="09:00:00", nullable=False))
        batch_op.add_column(sa.Column("sending_window_closes", sa.Time(), server_default="20:00:00", nullable=False))
        batch_op.add_column(sa.Column("weekly_marketing_cap", sa.SmallInteger(), server_default="2", nullable=False))
        batch_op.add_column(sa.Column("price_per_part_millis", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("test_phone", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("merchants") as batch_op:
        batch_op.drop_column("test_phone")
        batch_op.drop_column("price_per_part_millis")
        batch_op.drop_column("weekly_marketing_cap")
        batch_op.drop_column("sending_window_closes")
        batch_op.drop_column("sending_window_opens")
    with op.batch_alter_table("outbound_messages") as batch_op:
        batch_op.drop_index("ix_outbound_messages_campaign_status")
        batch_op.drop_constraint(batch_op.f("fk_outbound_messages_campaign_id_campaigns"), type_="foreignkey")
        batch_op.drop_column("campaign_id")
    op.drop_index(op.f("ix_campaign_holdouts_member_id"), table_name="campaign_holdouts")
    op.drop_table("campaign_holdouts")
    op.drop_index(op.f("ix_campaigns_segment_id"), table_name="campaigns")
    op.drop_index(op.f("ix_campaigns_merchant_id"), table_name="campaigns")
    op.drop_table("campaigns")
    op.drop_index("ix_member_interests_topic_member", table_name="member_interests")
    op.drop_index(op.f("ix_segments_exclude_segment_id"), table_name="segments")
    op.drop_index(op.f("ix_segments_merchant_id"), table_name="segments")
    op.drop_table("segments")
