"""What administrators, LA management teams and auditors use: users, organisations, shielding, index status,
relevance profiles and the audit trail."""
from . import audit, directory, relevance, users

BLUEPRINTS = (audit.bp, users.bp, directory.bp, relevance.bp)
