"""audit trail anchored by a keyed MAC

Revision ID: 0009
Revises: 0008

The head row gains ``keyed_from`` (the first event whose hash is a keyed MAC) and ``mac`` (its own
keyed MAC). A trail already holding events keeps them as they are (plain SHA-256) and is sealed
here with the audit key, which ``registry.db.upgrade(engine, audit_key=...)`` hands in: the first
keyed event then anchors every older one. Without the key such a database is not upgraded.
"""
import hashlib
import hmac
import json

from alembic import context, op
import sqlalchemy as sa

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
audit_head = sa.table('audit_head', sa.column('id', sa.Integer()), sa.column('seq', BIG_ID),
                      sa.column('hash', sa.String()), sa.column('keyed_from', BIG_ID), sa.column('mac', sa.String()))


def _head_mac(key: bytes, seq: int, hash_: str, keyed_from: int) -> str:
    # A frozen copy of access_control.audit.head_mac (a migration imports nothing above registry).
    material = json.dumps(["contactpoint/audit-head", seq, hash_, keyed_from], ensure_ascii=False)
    return hmac.new(key, material.encode(), hashlib.sha256).hexdigest()


def upgrade() -> None:
    head = op.get_bind().execute(sa.select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).first()
    key = context.config.attributes.get("audit_key")
    if head is not None and head.seq and not key:  # checked before anything changes
        raise RuntimeError("this database holds an audit trail written before the keyed MAC, and upgrading seals it "
                           "with the audit key: set CONTACTPOINT_SECRET_KEY (or CONTACTPOINT_AUDIT_KEY) as the web "
                           "app has it, then upgrade again")
    with op.batch_alter_table('audit_head') as batch:
        batch.add_column(sa.Column('keyed_from', BIG_ID, nullable=True))
        batch.add_column(sa.Column('mac', sa.String(length=64), nullable=True))
    if head is not None and head.seq:
        keyed_from = head.seq + 1
        op.execute(audit_head.update().where(audit_head.c.id == 1).values(
            keyed_from=keyed_from, mac=_head_mac(key, head.seq, head.hash, keyed_from)))


def downgrade() -> None:
    with op.batch_alter_table('audit_head') as batch:
        batch.drop_column('mac')
        batch.drop_column('keyed_from')
