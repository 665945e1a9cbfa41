"""What administrators, LA management teams and auditors use: users, organisations, shielding, index status,
relevance profiles, linkage review and the audit trail."""
from . import audit, directory, linkage_review, relevance, users

BLUEPRINTS = (audit.bp, users.bp, directory.bp, relevance.bp, linkage_review.bp)
