"""change log compaction: (child_id, seq) for a child's newest change, (change, seq) for pending shieldings

Revision ID: 0012
Revises: 0011
"""
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('change_log') as batch:
        # Serves every lookup by child that the old one did, and finds a child's newest change from the index
        # alone (rebuild pages, compaction's "is there a newer change?").
        batch.drop_index('ix_change_log_child_id')
        batch.create_index('ix_change_log_child_id_seq', ['child_id', 'seq'])
        # shielded_since_indexed: the shieldings after a checkpoint, on every search.
        batch.create_index('ix_change_log_change_seq', ['change', 'seq'])


def downgrade() -> None:
    with op.batch_alter_table('change_log') as batch:
        batch.drop_index('ix_change_log_change_seq')
        batch.drop_index('ix_change_log_child_id_seq')
        batch.create_index('ix_change_log_child_id', ['child_id'])
