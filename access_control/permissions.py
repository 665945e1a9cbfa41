"""Which role may do what. The one table every front end consults."""
from __future__ import annotations

from registry.models import ROLES

SEARCHERS = frozenset({"practitioner", "la_management", "national_admin", "api_client"})

PERMISSIONS: dict[str, frozenset[str]] = {
    "search": SEARCHERS,
    "view_record": SEARCHERS,
    "register_involvement": SEARCHERS,
    "mediated_search": frozenset({"practitioner", "la_management", "national_admin"}),
    "set_shielding": frozenset({"la_management", "national_admin"}),
    "review_audit": frozenset({"la_management", "national_admin", "auditor"}),
    "administer_users": frozenset({"la_management", "national_admin"}),
    "administer_tokens": frozenset({"national_admin"}),
    "manage_relevance": frozenset({"relevance_admin", "national_admin"}),
    # Reading real children in bulk to make relevance judgments (never shielded ones; an LA team only its own).
    "read_children_in_bulk": frozenset({"la_management", "national_admin"}),
    "view_index_status": frozenset({"national_admin", "relevance_admin"}),
}

# Roles that sign in to the web pages; API clients use tokens and the indexer neither.
INTERACTIVE_ROLES = frozenset({"practitioner", "la_management", "national_admin", "auditor", "relevance_admin"})

assert all(roles <= set(ROLES) for roles in PERMISSIONS.values())


def allowed(role: str, permission: str) -> bool:
    return role in PERMISSIONS[permission]
