"""who registered an involvement (a practitioner's own "I am working with this child")

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('involvements') as batch:
        batch.add_column(sa.Column('registered_by', sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('involvements') as batch:
        batch.drop_column('registered_by')
