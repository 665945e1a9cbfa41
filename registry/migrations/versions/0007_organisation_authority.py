"""organisations belong to a local authority (LA teams administer only their own)

Revision ID: 0007
Revises: 0006

A local authority belongs to itself. Any other organisation whose users all work in one and the
same local authority is given to that authority; the rest stay national (NULL) until a national
administrator gives them to an authority on the organisations page.
"""
from alembic import op
import sqlalchemy as sa

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # In place, REFERENCES clause and all: batch mode would add the constraint by recreating the table,
        # and dropping the old one trips the foreign keys of every table pointing at organisations.
        op.execute("ALTER TABLE organisations ADD COLUMN local_authority_id INTEGER REFERENCES organisations (id)")
    else:
        with op.batch_alter_table('organisations') as batch:
            batch.add_column(sa.Column('local_authority_id', sa.Integer(), nullable=True))
            batch.create_foreign_key('fk_organisations_local_authority_id', 'organisations',
                                     ['local_authority_id'], ['id'])
    op.execute("UPDATE organisations SET local_authority_id = id WHERE kind = 'local_authority'")
    op.execute(
        "UPDATE organisations SET local_authority_id = ("
        "  SELECT MIN(u.local_authority_id) FROM users u WHERE u.organisation_id = organisations.id) "
        "WHERE kind <> 'local_authority' "
        "AND (SELECT COUNT(DISTINCT u.local_authority_id) FROM users u WHERE u.organisation_id = organisations.id) = 1 "
        "AND NOT EXISTS (SELECT 1 FROM users u WHERE u.organisation_id = organisations.id "
        "                AND u.local_authority_id IS NULL)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE organisations DROP COLUMN local_authority_id")  # in place, as it was added
        return
    with op.batch_alter_table('organisations') as batch:
        batch.drop_constraint('fk_organisations_local_authority_id', type_='foreignkey')
        batch.drop_column('local_authority_id')
