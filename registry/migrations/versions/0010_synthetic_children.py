"""children made up by the demo-data generator are marked synthetic (relevance work may read only them)

Revision ID: 0010
Revises: 0009
"""
from alembic import op
import sqlalchemy as sa

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every child already in the directory counts as real: nothing can prove it synthetic.
    with op.batch_alter_table('children') as batch:
        batch.add_column(sa.Column('synthetic', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('children') as batch:
        batch.drop_column('synthetic')
