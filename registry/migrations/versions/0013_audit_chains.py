"""audit trail in parallel chains, and an index of whom each event concerns

Revision ID: 0013
Revises: 0012

Events were one chain ordered by a locked head row, so every audited request in the country queued
on that row. Now there are CHAINS chains, each with its own head row; a writer takes any head nobody
holds. An event keeps a global ``seq`` (now from the table's sequence) and gains ``chain`` and
``chain_seq`` (its place in its chain, which is what its MAC covers). The events already written
form chain 1 unchanged (``chain_seq`` = ``seq``).

``audit_subjects`` lists, for each event, the children (ContactPoint IDs) and authorities (LA codes)
its details name (and which children were shielded), so audit review filters by child and authority,
and the unusual-usage report selects, on an index, not ``LIKE`` over JSON.
"""
import hashlib
import json

from alembic import op
import sqlalchemy as sa

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

CHAINS = 16  # a frozen copy of access_control.audit.CHAINS at this revision
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
AUTHORITY_KEYS = ("actor_la", "child_la", "other_child_la")

audit_events = sa.table('audit_events', sa.column('seq', BIG_ID), sa.column('details', sa.Text()))
audit_head = sa.table('audit_head', sa.column('id', sa.Integer()), sa.column('seq', BIG_ID),
                      sa.column('hash', sa.String()))
audit_subjects = sa.table('audit_subjects', sa.column('kind', sa.String()), sa.column('value', sa.String()),
                          sa.column('seq', BIG_ID))


def _genesis(chain: int) -> str:
    # Frozen copy of access_control.audit.genesis.
    return "0" * 64 if chain == 1 else hashlib.sha256(f"contactpoint/audit-chain/{chain}".encode()).hexdigest()


def _subjects(details, key=None, found=None) -> set[tuple[str, str]]:
    # Frozen copy of access_control.audit.subjects.
    found = set() if found is None else found
    if isinstance(details, dict):
        if (details.get("shielded") is True or key == "shielded_returned") and isinstance(details.get("cp_id"), str):
            found.add(("shielded", details["cp_id"]))
        for name, value in details.items():
            _subjects(value, name, found)
    elif isinstance(details, list):
        for value in details:
            _subjects(value, key, found)
    elif isinstance(details, str):
        if key in AUTHORITY_KEYS:
            found.add((key, details))
        elif len(details) == 10 and details.isascii() and details.isdigit():
            found.add(("child", details))
    return found


def upgrade() -> None:
    with op.batch_alter_table('audit_events') as batch:
        batch.add_column(sa.Column('chain', sa.Integer(), nullable=False, server_default='1'))
        batch.add_column(sa.Column('chain_seq', BIG_ID, nullable=True))
    op.execute("UPDATE audit_events SET chain_seq = seq")
    with op.batch_alter_table('audit_events') as batch:
        batch.alter_column('chain_seq', existing_type=BIG_ID, nullable=False)
        batch.create_unique_constraint('uq_audit_events_chain_seq', ['chain', 'chain_seq'])
        batch.create_index('ix_audit_events_organisation', ['organisation'])
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        # Events took their seq from the head row until now, never from the column's sequence.
        op.execute("SELECT setval(pg_get_serial_sequence('audit_events', 'seq'), "
                   "COALESCE((SELECT max(seq) FROM audit_events), 0) + 1, false)")
    existing = {row.id for row in bind.execute(sa.select(audit_head.c.id))}
    events = bind.execute(sa.select(sa.func.count()).select_from(audit_events)).scalar()
    # Chain 1's head appears with the first event of a new trail, as before; a trail whose head is gone
    # stays a finding, not something this migration papers over.
    wanted = range(2, CHAINS + 1) if events or 1 in existing else range(1, CHAINS + 1)
    rows = [{"id": chain, "seq": 0, "hash": _genesis(chain)} for chain in wanted if chain not in existing]
    if rows:
        op.bulk_insert(audit_head, rows)
    op.create_table(
        'audit_subjects',
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('value', sa.String(length=20), nullable=False),
        sa.Column('seq', BIG_ID, sa.ForeignKey('audit_events.seq'), nullable=False),
        sa.PrimaryKeyConstraint('kind', 'value', 'seq'),
    )
    op.create_index('ix_audit_subjects_seq', 'audit_subjects', ['seq'])
    last = 0
    while True:
        batch = bind.execute(sa.select(audit_events.c.seq, audit_events.c.details).where(audit_events.c.seq > last)
                             .order_by(audit_events.c.seq).limit(5000)).all()
        if not batch:
            break
        subjects = [{"kind": kind, "value": value, "seq": row.seq} for row in batch
                    for kind, value in sorted(_subjects(json.loads(row.details)))]
        if subjects:
            op.bulk_insert(audit_subjects, subjects)
        last = batch[-1].seq


def downgrade() -> None:
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT 1 FROM audit_events WHERE chain > 1 LIMIT 1")).first():
        raise RuntimeError("the audit trail holds events in chains other than 1, which the single chain before this "
                           "revision cannot verify: it cannot be downgraded")
    op.drop_index('ix_audit_subjects_seq', 'audit_subjects')
    op.drop_table('audit_subjects')
    op.execute(sa.delete(audit_head).where(sa.or_(audit_head.c.id > 1, audit_head.c.seq == 0)))  # as before: no unused heads
    with op.batch_alter_table('audit_events') as batch:
        batch.drop_index('ix_audit_events_organisation')
        batch.drop_constraint('uq_audit_events_chain_seq', type_='unique')
        batch.drop_column('chain_seq')
        batch.drop_column('chain')
