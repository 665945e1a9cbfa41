"""initial schema

Revision ID: 0001
Revises: 
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_events',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('organisation', sa.String(length=100), nullable=True),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )
    op.create_table('audit_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('change_log',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('child_id', sa.Integer(), nullable=False),
    sa.Column('change', sa.String(length=30), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )
    with op.batch_alter_table('change_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_change_log_child_id'), ['child_id'], unique=False)

    op.create_table('index_checkpoints',
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('organisations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('postcode', sa.String(length=10), nullable=True),
    sa.CheckConstraint("kind IN ('local_authority', 'school', 'gp_practice', 'service')", name='ck_organisations_kind'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kind', 'code', name='uq_organisations_kind_code')
    )
    op.create_table('children',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cp_id', sa.String(length=10), nullable=False),
    sa.Column('given_name', sa.String(length=100), nullable=False),
    sa.Column('middle_names', sa.String(length=200), nullable=True),
    sa.Column('family_name', sa.String(length=100), nullable=False),
    sa.Column('date_of_birth', sa.Date(), nullable=False),
    sa.Column('gender', sa.String(length=10), nullable=False),
    sa.Column('address_line_1', sa.String(length=200), nullable=True),
    sa.Column('address_line_2', sa.String(length=200), nullable=True),
    sa.Column('town', sa.String(length=100), nullable=True),
    sa.Column('postcode', sa.String(length=10), nullable=True),
    sa.Column('local_authority_id', sa.Integer(), nullable=True),
    sa.Column('school_id', sa.Integer(), nullable=True),
    sa.Column('gp_practice_id', sa.Integer(), nullable=True),
    sa.Column('shielded', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('merged_into_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("gender IN ('female', 'male', 'other', 'unknown')", name='ck_children_gender'),
    sa.CheckConstraint("status IN ('active', 'archived', 'merged', 'deleted')", name='ck_children_status'),
    sa.ForeignKeyConstraint(['gp_practice_id'], ['organisations.id'], ),
    sa.ForeignKeyConstraint(['local_authority_id'], ['organisations.id'], ),
    sa.ForeignKeyConstraint(['merged_into_id'], ['children.id'], ),
    sa.ForeignKeyConstraint(['school_id'], ['organisations.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('cp_id')
    )
    with op.batch_alter_table('children', schema=None) as batch_op:
        batch_op.create_index('ix_children_dob', ['date_of_birth'], unique=False)

    op.create_table('source_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=50), nullable=False),
    sa.Column('source_record_id', sa.String(length=100), nullable=False),
    sa.Column('child_id', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['child_id'], ['children.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source', 'source_record_id', name='uq_source_records_source_id')
    )
    with op.batch_alter_table('source_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_source_records_child_id'), ['child_id'], unique=False)

    op.create_table('carers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('child_id', sa.Integer(), nullable=False),
    sa.Column('given_name', sa.String(length=100), nullable=False),
    sa.Column('family_name', sa.String(length=100), nullable=False),
    sa.Column('relationship_to_child', sa.String(length=40), nullable=False),
    sa.Column('parental_responsibility', sa.Boolean(), nullable=False),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('source_record_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['child_id'], ['children.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['source_record_id'], ['source_records.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('carers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_carers_child_id'), ['child_id'], unique=False)

    op.create_table('child_names',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('child_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('given_name', sa.String(length=100), nullable=False),
    sa.Column('middle_names', sa.String(length=200), nullable=True),
    sa.Column('family_name', sa.String(length=100), nullable=False),
    sa.Column('source_record_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("kind IN ('primary', 'alias', 'previous', 'source')", name='ck_child_names_kind'),
    sa.ForeignKeyConstraint(['child_id'], ['children.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['source_record_id'], ['source_records.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('child_names', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_child_names_child_id'), ['child_id'], unique=False)

    op.create_table('involvements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('child_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('practitioner_name', sa.String(length=200), nullable=True),
    sa.Column('role', sa.String(length=100), nullable=False),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('lead_professional', sa.Boolean(), nullable=False),
    sa.Column('caf_held', sa.Boolean(), nullable=False),
    sa.Column('info_to_share', sa.Boolean(), nullable=False),
    sa.Column('assessment_undertaken', sa.Boolean(), nullable=False),
    sa.Column('sensitive_category', sa.String(length=20), nullable=True),
    sa.Column('consent_recorded_by', sa.String(length=200), nullable=True),
    sa.Column('consent_recorded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('source_record_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("sensitive_category IS NULL OR sensitive_category IN ('sexual_health', 'mental_health', 'substance_misuse')", name='ck_involvements_sensitive_category'),
    sa.CheckConstraint('end_date IS NULL OR end_date >= start_date', name='ck_involvements_dates'),
    sa.CheckConstraint('sensitive_category IS NULL OR (consent_recorded_by IS NOT NULL AND consent_recorded_at IS NOT NULL)', name='ck_involvements_sensitive_needs_consent'),
    sa.ForeignKeyConstraint(['child_id'], ['children.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], ),
    sa.ForeignKeyConstraint(['source_record_id'], ['source_records.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('involvements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_involvements_child_id'), ['child_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('involvements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_involvements_child_id'))

    op.drop_table('involvements')
    with op.batch_alter_table('child_names', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_child_names_child_id'))

    op.drop_table('child_names')
    with op.batch_alter_table('carers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_carers_child_id'))

    op.drop_table('carers')
    with op.batch_alter_table('source_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_source_records_child_id'))

    op.drop_table('source_records')
    with op.batch_alter_table('children', schema=None) as batch_op:
        batch_op.drop_index('ix_children_dob')

    op.drop_table('children')
    op.drop_table('organisations')
    op.drop_table('index_checkpoints')
    with op.batch_alter_table('change_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_change_log_child_id'))

    op.drop_table('change_log')
    op.drop_table('audit_head')
    op.drop_table('audit_events')
