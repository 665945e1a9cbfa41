"""What administrators, LA management teams and auditors use: users, organisations, shielding, index status,
relevance profiles, linkage models, linkage review and the audit trail."""
from . import audit, directory, linkage_models, linkage_review, relevance, users

BLUEPRINTS = (audit.bp, users.bp, directory.bp, relevance.bp, linkage_models.bp, linkage_review.bp)
