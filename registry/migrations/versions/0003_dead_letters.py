"""index dead letters; change log keeps the ContactPoint ID

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('change_log') as batch:
        batch.add_column(sa.Column('cp_id', sa.String(length=10), nullable=True))
    op.create_table(
        'index_dead_letters',
        sa.Column('child_id', sa.Integer(), nullable=False),
        sa.Column('cp_id', sa.String(length=10), nullable=True),
        sa.Column('error', sa.Text(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('first_failed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_failed_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('child_id'),
    )


def downgrade() -> None:
    op.drop_table('index_dead_letters')
    with op.batch_alter_table('change_log') as batch:
        batch.drop_column('cp_id')
