"""notifications: registry's event outbox, and access_control's notifications, mail outbox and email opt-outs

Revision ID: 0014
Revises: 0013

``notification_events`` is written by the registry in the transaction that started an involvement with a
child already on record or moved a child to another local authority; the notifier turns each event into
one ``notifications`` row per recipient (in-app) and, unless they opted out, a ``notification_mail`` row
(the SMTP outbox). No foreign keys to children: a purged child's notifications just say so.
"""
from alembic import op
import sqlalchemy as sa

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
WHEN = sa.DateTime(timezone=True)


def _references() -> list[sa.Column]:
    """What an event and a notice are about (registry.models.EventReferences at this revision)."""
    return [sa.Column('id', BIG_ID, primary_key=True, autoincrement=True),
            sa.Column('kind', sa.String(30), nullable=False),
            sa.Column('child_id', sa.Integer(), nullable=False),
            sa.Column('involvement_id', sa.Integer()),
            sa.Column('old_la_id', sa.Integer()),
            sa.Column('new_la_id', sa.Integer()),
            sa.Column('created_at', WHEN, nullable=False)]


def upgrade() -> None:
    op.create_table(
        'notification_events',
        *_references(),
        sa.CheckConstraint("kind IN ('involvement_started', 'authority_changed')", name='ck_notification_events_kind'),
    )
    op.create_table(
        'notifications',
        *_references(),
        sa.Column('event_id', BIG_ID, nullable=False),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('users.id'), nullable=False),
        sa.Column('read_at', WHEN),
        sa.UniqueConstraint('event_id', 'user_id', name='uq_notifications_event_user'),
    )
    # The header's unread count and the notifications page: one user's rows, newest first.
    op.create_index('ix_notifications_user_read', 'notifications', ['user_id', 'read_at'])
    op.create_table(
        'notification_mail',
        sa.Column('id', BIG_ID, primary_key=True, autoincrement=True),
        sa.Column('notification_id', BIG_ID, sa.ForeignKey('notifications.id'), nullable=False, unique=True),
        sa.Column('status', sa.String(10), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', WHEN, nullable=False),
        sa.Column('lease_owner', sa.String(100)),
        sa.Column('lease_until', WHEN),
        sa.Column('sent_at', WHEN),
        sa.Column('last_error', sa.Text()),
        sa.Column('created_at', WHEN, nullable=False),
        sa.CheckConstraint("status IN ('queued', 'sent', 'dropped')", name='ck_notification_mail_status'),
    )
    op.create_index('ix_notification_mail_due', 'notification_mail', ['status', 'next_attempt_at'])
    op.create_table(
        'notification_email_opt_outs',
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('users.id'), primary_key=True),
        sa.Column('kind', sa.String(30), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table('notification_email_opt_outs')
    op.drop_index('ix_notification_mail_due', 'notification_mail')
    op.drop_table('notification_mail')
    op.drop_index('ix_notifications_user_read', 'notifications')
    op.drop_table('notifications')
    op.drop_table('notification_events')
