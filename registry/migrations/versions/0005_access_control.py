"""users, API tokens, shared rate-limit counters, shielding reason

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

ROLES = ("practitioner", "la_management", "national_admin", "auditor", "relevance_admin", "api_client", "indexer")


def upgrade() -> None:
    with op.batch_alter_table('children') as batch:
        batch.add_column(sa.Column('shielding_reason', sa.String(length=30), nullable=True))
    op.create_table(
        'users',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('username', sa.String(length=100), nullable=False, unique=True),
        sa.Column('display_name', sa.String(length=200), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=True),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('organisation_id', sa.Integer(), sa.ForeignKey('organisations.id'), nullable=False),
        sa.Column('local_authority_id', sa.Integer(), sa.ForeignKey('organisations.id'), nullable=True),
        sa.Column('password_hash', sa.String(length=200), nullable=True),
        sa.Column('totp_secret', sa.String(length=64), nullable=True),
        sa.Column('totp_confirmed', sa.Boolean(), nullable=False),
        sa.Column('totp_last_step', sa.BigInteger(), nullable=False),
        sa.Column('failed_logins', sa.Integer(), nullable=False),
        sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('disabled', sa.Boolean(), nullable=False),
        sa.Column('expires_on', sa.Date(), nullable=True),
        sa.Column('session_generation', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.String(length=100), nullable=False),
        sa.CheckConstraint(f"role IN {ROLES}", name='ck_users_role'),
    )
    op.create_table(
        'api_tokens',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('token_id', sa.String(length=16), nullable=False, unique=True),
        sa.Column('secret_hash', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('users.id'), nullable=False, index=True),
        sa.Column('scopes', sa.String(length=200), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.String(length=100), nullable=False),
    )
    op.create_table(
        'rate_limit_counters',
        sa.Column('key', sa.String(length=255), primary_key=True),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('expires_at', sa.Float(), nullable=False),
    )
    op.create_index('ix_audit_events_actor', 'audit_events', ['actor'])
    op.create_index('ix_audit_events_occurred_at', 'audit_events', ['occurred_at'])


def downgrade() -> None:
    op.drop_index('ix_audit_events_occurred_at', 'audit_events')
    op.drop_index('ix_audit_events_actor', 'audit_events')
    op.drop_table('rate_limit_counters')
    op.drop_table('api_tokens')
    op.drop_table('users')
    with op.batch_alter_table('children') as batch:
        batch.drop_column('shielding_reason')
