"""points ledger, purchases, rewards, referrals and segmentation

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 09:46:04.240196
"""
import sqlalchemy as sa
from alembic import op

import smscrm.db.types

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rewards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=12), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('points_cost', sa.Integer(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('stock', sa.Integer(), nullable=True),
    sa.Column('created_at', smscrm.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('points_cost > 0', name=op.f('ck_rewards_points_cost_positive')),
    sa.CheckConstraint('stock >= 0', name=op.f('ck_rewards_stock_nonnegative')),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_rewards_merchant_id_merchants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rewards')),
    sa.UniqueConstraint('merchant_id', 'code', name=op.f('uq_rewards_merchant_id_code'))
    )
    op.create_table('purchases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('amount_minor', sa.Integer(), nullable=False),
    sa.Column('points_earned', sa.Integer(), nullable=False),
    sa.Column('is_points_held', sa.Boolean(), nullable=False),
    sa.Column('balance_after', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=64), nullable=True),
    sa.Column('idempotency_key', sa.String(length=80), nullable=True),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('created_at', smscrm.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount_minor > 0', name=op.f('ck_purchases_amount_positive')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_purchases_member_id_members')),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_purchases_merchant_id_merchants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_purchases')),
    sa.UniqueConstraint('merchant_id', 'idempotency_key', name=op.f('uq_purchases_merchant_id_idempotency_key')),
    sa.UniqueConstraint('merchant_id', 'reference', name=op.f('uq_purchases_merchant_id_reference'))
    )
    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.create_index('ix_purchases_member_created_amount', ['member_id', 'created_at', 'amount_minor'], unique=False)
        batch_op.create_index('ix_purchases_merchant_created', ['merchant_id', 'created_at'], unique=False)

    op.create_table('redemptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('reward_id', sa.Integer(), nullable=False),
    sa.Column('points_cost', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('code', sa.String(length=12), nullable=True),
    sa.Column('idempotency_key', sa.String(length=80), nullable=True),
    sa.Column('expires_at', smscrm.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('confirmed_at', smscrm.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('released_at', smscrm.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', smscrm.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_redemptions_member_id_members')),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_redemptions_merchant_id_merchants')),
    sa.ForeignKeyConstraint(['reward_id'], ['rewards.id'], name=op.f('fk_redemptions_reward_id_rewards')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_redemptions')),
    sa.UniqueConstraint('merchant_id', 'code', name=op.f('uq_redemptions_merchant_id_code')),
    sa.UniqueConstraint('merchant_id', 'idempotency_key', name=op.f('uq_redemptions_merchant_id_idempotency_key'))
    )
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_redemptions_member_id'), ['member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_redemptions_reward_id'), ['reward_id'], unique=False)
        batch_op.create_index('ix_redemptions_status_expires', ['status', 'expires_at'], unique=False)

    op.create_table('referrals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('referrer_id', sa.Integer(), nullable=False),
    sa.Column('referred_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_at', smscrm.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('joined_at', smscrm.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('rewarded_at', smscrm.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_referrals_merchant_id_merchants')),
    sa.ForeignKeyConstraint(['referred_id'], ['members.id'], name=op.f('fk_referrals_referred_id_members')),
    sa.ForeignKeyConstraint(['referrer_id'], ['members.id'], name=op.f('fk_referrals_referrer_id_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referrals')),
    sa.UniqueConstraint('referred_id', name=op.f('uq_referrals_referred_id'))
    )
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_referrals_referrer_id'), ['referrer_id'], unique=False)

    op.create_table('points_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('balance_after', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=120), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.Column('purchase_id', sa.Integer(), nullable=True),
    sa.Column('redemption_id', sa.Integer(), nullable=True),
    sa.Column('created_at', smscrm.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('balance_after >= 0', name=op.f('ck_points_entries_balance_after_nonnegative')),
    sa.CheckConstraint('points <> 0', name=op.f('ck_points_entries_points_nonzero')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_points_entries_member_id_members')),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_points_entries_merchant_id_merchants')),
    sa.ForeignKeyConstraint(['purchase_id'], ['purchases.id'], name=op.f('fk_points_entries_purchase_id_purchases')),
    sa.ForeignKeyConstraint(['redemption_id'], ['redemptions.id'], name=op.f('fk_points_entries_redemption_id_redemptions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_points_entries')),
    sa.UniqueConstraint('merchant_id', 'idempotency_key', name=op.f('uq_points_entries_merchant_id_idempotency_key'))
    )
    with op.batch_alter_table('points_entries', schema=None) as batch_op:
        batch_op.create_index('ix_points_entries_member_id_id', ['member_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_points_entries_purchase_id'), ['purchase_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_points_entries_redemption_id'), ['redemption_id'], unique=False)

    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stage', sa.String(length=16), server_default='joined', nullable=False))
        batch_op.add_column(sa.Column('value_class', sa.String(length=1), nullable=True))
        batch_op.add_column(sa.Column('first_visit_at', smscrm.db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_visit_at', smscrm.db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('visit_count', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('total_spend_minor', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('typical_visit_gap_days', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('referral_code', sa.String(length=12), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_members_merchant_id_referral_code'), ['merchant_id', 'referral_code'])
        batch_op.create_check_constraint('points_balance_nonnegative', 'points_balance >= 0')
    op.execute("UPDATE members SET stage = 'pending' WHERE joined_at IS NULL")
    if op.get_bind().dialect.name == "postgresql":
        # a member's row changes with every purchase and redemption and in the nightly recompute: room on each
        # page keeps those updates on the page (HOT), without new entries in the table's four indexes
        op.execute("ALTER TABLE members SET (fillfactor = 70)")

    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('points_per_unit', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('earn_unit_minor', sa.Integer(), server_default='100', nullable=False))
        batch_op.add_column(sa.Column('multiplier_a_pct', sa.Integer(), server_default='100', nullable=False))
        batch_op.add_column(sa.Column('multiplier_b_pct', sa.Integer(), server_default='100', nullable=False))
        batch_op.add_column(sa.Column('multiplier_c_pct', sa.Integer(), server_default='100', nullable=False))
        batch_op.add_column(sa.Column('welcome_bonus', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('birthday_bonus', sa.Integer(), server_default='50', nullable=False))
        batch_op.add_column(sa.Column('referral_bonus', sa.Integer(), server_default='50', nullable=False))
        batch_op.add_column(sa.Column('points_expiry_months', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('redemption_code_days', sa.Integer(), server_default='7', nullable=False))
        batch_op.add_column(sa.Column('has_receipt_texts', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('class_a_revenue_pct', sa.Integer(), server_default='80', nullable=False))
        batch_op.add_column(sa.Column('class_a_max_members_pct', sa.Integer(), server_default='20', nullable=False))
        batch_op.add_column(sa.Column('class_b_members_pct', sa.Integer(), server_default='30', nullable=False))
        batch_op.add_column(sa.Column('classes_computed_at', smscrm.db.types.UTCDateTime(timezone=True), nullable=True))



def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE members RESET (fillfactor)")
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.drop_column('classes_computed_at')
        batch_op.drop_column('class_b_members_pct')
        batch_op.drop_column('class_a_max_members_pct')
        batch_op.drop_column('class_a_revenue_pct')
        batch_op.drop_column('has_receipt_texts')
        batch_op.drop_column('redemption_code_days')
        batch_op.drop_column('points_expiry_months')
        batch_op.drop_column('referral_bonus')
        batch_op.drop_column('birthday_bonus')
        batch_op.drop_column('welcome_bonus')
        batch_op.drop_column('multiplier_c_pct')
        batch_op.drop_column('multiplier_b_pct')
        batch_op.drop_column('multiplier_a_pct')
        batch_op.drop_column('earn_unit_minor')
        batch_op.drop_column('points_per_unit')

    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_members_points_balance_nonnegative'), type_='check')
        batch_op.drop_constraint(batch_op.f('uq_members_merchant_id_referral_code'), type_='unique')
        batch_op.drop_column('referral_code')
        batch_op.drop_column('typical_visit_gap_days')
        batch_op.drop_column('total_spend_minor')
        batch_op.drop_column('visit_count')
        batch_op.drop_column('last_visit_at')
        batch_op.drop_column('first_visit_at')
        batch_op.drop_column('value_class')
        batch_op.drop_column('stage')

    with op.batch_alter_table('points_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_points_entries_redemption_id'))
        batch_op.drop_index(batch_op.f('ix_points_entries_purchase_id'))
        batch_op.drop_index('ix_points_entries_member_id_id')

    op.drop_table('points_entries')
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_referrals_referrer_id'))

    op.drop_table('referrals')
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.drop_index('ix_redemptions_status_expires')
        batch_op.drop_index(batch_op.f('ix_redemptions_reward_id'))
        batch_op.drop_index(batch_op.f('ix_redemptions_member_id'))

    op.drop_table('redemptions')
    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.drop_index('ix_purchases_merchant_created')
        batch_op.drop_index('ix_purchases_member_created_amount')

    op.drop_table('purchases')
    op.drop_table('rewards')
