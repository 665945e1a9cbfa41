"""sign-in hardening (TOTP secrets encrypted at rest)

Revision ID: 0008
Revises: 0007

An encrypted secret (about 90 characters) does not fit the old 64. The migration cannot know the
key (it lives outside the database), so secrets stored before stay plaintext here: the app
encrypts each one the next time it reads it, and `contactpoint db upgrade` encrypts the rest at
once when a key is configured (access_control.accounts.encrypt_plaintext_secrets).
"""
from alembic import op
import sqlalchemy as sa

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def _widen(length: int) -> None:
    # SQLite never enforces a VARCHAR's length, and rebuilding `users` in batch mode would break the
    # foreign keys pointing at it (DROP TABLE fails with foreign keys on): PostgreSQL only.
    if op.get_bind().dialect.name != 'sqlite':
        op.alter_column('users', 'totp_secret', type_=sa.String(length=length), existing_nullable=True)


def upgrade() -> None:
    _widen(200)


def downgrade() -> None:
    # Encrypted secrets do not fit back: those users set up their authenticator app again.
    op.execute("UPDATE users SET totp_secret = NULL, totp_confirmed = false WHERE length(totp_secret) > 64")
    _widen(64)
