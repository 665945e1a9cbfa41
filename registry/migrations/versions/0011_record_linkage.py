"""record linkage: identifiers, links on source records, address history, review queue, merges, linkage models

Revision ID: 0011
Revises: 0010
"""
from alembic import op
import sqlalchemy as sa

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('children') as batch:
        batch.add_column(sa.Column('nhs_number', sa.String(length=10), nullable=True))
        batch.add_column(sa.Column('upn', sa.String(length=13), nullable=True))
        batch.create_index('ix_children_nhs_number', ['nhs_number'])
        batch.create_index('ix_children_upn', ['upn'])
    with op.batch_alter_table('source_records') as batch:
        batch.add_column(sa.Column('nhs_number', sa.String(length=10), nullable=True))
        batch.add_column(sa.Column('upn', sa.String(length=13), nullable=True))
        # Every record loaded before linkage made its own child.
        batch.add_column(sa.Column('link_decision', sa.String(length=10), nullable=False, server_default='created'))
        batch.add_column(sa.Column('match_weight', sa.Float(), nullable=True))
        batch.add_column(sa.Column('link_contributions', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('linkage_model', sa.String(length=60), nullable=True))
        batch.add_column(sa.Column('origin_child_id', sa.Integer(), nullable=True))
        batch.create_foreign_key('fk_source_records_origin_child', 'children', ['origin_child_id'], ['id'])
        batch.create_index('ix_source_records_nhs_number', ['nhs_number'])
        batch.create_index('ix_source_records_upn', ['upn'])
    op.execute("UPDATE source_records SET origin_child_id = child_id")
    op.create_table(
        'child_addresses',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('child_id', sa.Integer(), sa.ForeignKey('children.id', ondelete='CASCADE'), nullable=False),
        sa.Column('source_record_id', sa.Integer(), sa.ForeignKey('source_records.id', ondelete='CASCADE'),
                  nullable=True),
        sa.Column('address_line_1', sa.String(length=200), nullable=True),
        sa.Column('address_line_2', sa.String(length=200), nullable=True),
        sa.Column('town', sa.String(length=100), nullable=True),
        sa.Column('postcode', sa.String(length=10), nullable=True),
        sa.Column('first_seen', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_seen', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('child_id', 'source_record_id', 'postcode', 'address_line_1', name='uq_child_addresses'),
    )
    op.create_index('ix_child_addresses_child_id', 'child_addresses', ['child_id'])
    op.create_table(
        'linkage_review_items',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('child_id', sa.Integer(), sa.ForeignKey('children.id'), nullable=False),
        sa.Column('source_record_id', sa.Integer(), sa.ForeignKey('source_records.id'), nullable=True),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('linkage_model', sa.String(length=60), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('decided_by', sa.String(length=100), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('merged_with_id', sa.Integer(), sa.ForeignKey('children.id'), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.CheckConstraint("status IN ('open', 'merged', 'different', 'skipped')",
                           name='ck_linkage_review_items_status'),
    )
    op.create_index('ix_linkage_review_items_child_id', 'linkage_review_items', ['child_id'])
    op.create_index('ix_linkage_review_items_status', 'linkage_review_items', ['status'])
    op.create_table(
        'linkage_review_candidates',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('item_id', sa.Integer(), sa.ForeignKey('linkage_review_items.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('child_id', sa.Integer(), sa.ForeignKey('children.id'), nullable=False),
        sa.Column('match_weight', sa.Float(), nullable=False),
        sa.Column('contributions', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_linkage_review_candidates_item_id', 'linkage_review_candidates', ['item_id'])
    op.create_index('ix_linkage_review_candidates_child_id', 'linkage_review_candidates', ['child_id'])
    op.create_table(
        'linkage_non_matches',
        sa.Column('low_child_id', sa.Integer(), sa.ForeignKey('children.id'), nullable=False),
        sa.Column('high_child_id', sa.Integer(), sa.ForeignKey('children.id'), nullable=False),
        sa.Column('decided_by', sa.String(length=100), nullable=False),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('low_child_id', 'high_child_id'),
    )
    op.create_table(
        'child_merges',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('survivor_id', sa.Integer(), sa.ForeignKey('children.id'), nullable=False),
        sa.Column('merged_id', sa.Integer(), sa.ForeignKey('children.id'), nullable=False),
        sa.Column('moved', sa.JSON(), nullable=False),
        sa.Column('review_item_id', sa.Integer(), sa.ForeignKey('linkage_review_items.id'), nullable=True),
        sa.Column('merged_by', sa.String(length=100), nullable=False),
        sa.Column('merged_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('unmerged_by', sa.String(length=100), nullable=True),
        sa.Column('unmerged_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_child_merges_survivor_id', 'child_merges', ['survivor_id'])
    op.create_index('ix_child_merges_merged_id', 'child_merges', ['merged_id'])
    op.create_table(
        'linkage_models',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=50), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('body', sa.JSON(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_by', sa.String(length=100), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name', 'version', name='uq_linkage_models_name_version'),
    )


def downgrade() -> None:
    for table in ('linkage_models', 'child_merges', 'linkage_non_matches', 'linkage_review_candidates',
                  'linkage_review_items', 'child_addresses'):
        op.drop_table(table)
    with op.batch_alter_table('source_records') as batch:
        batch.drop_index('ix_source_records_upn')
        batch.drop_index('ix_source_records_nhs_number')
        batch.drop_constraint('fk_source_records_origin_child', type_='foreignkey')
        for column in ('origin_child_id', 'linkage_model', 'link_contributions', 'match_weight', 'link_decision',
                       'upn', 'nhs_number'):
            batch.drop_column(column)
    with op.batch_alter_table('children') as batch:
        batch.drop_index('ix_children_upn')
        batch.drop_index('ix_children_nhs_number')
        batch.drop_column('upn')
        batch.drop_column('nhs_number')
