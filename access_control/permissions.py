"""Which role may do what. The one table every front end consults."""
from __future__ import annotations

from .models import ROLES

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
    # Record linkage: deciding review items, and merging or unmerging children by hand (an LA team only where
    # either child is its own). Never an API client: a person decides that two records are one child.
    "review_linkage": frozenset({"la_management", "national_admin"}),
    "merge_children": frozenset({"la_management", "national_admin"}),
    # The linkage model's versions: reading, comparing on the reviewers' decisions (figures only), editing the
    # thresholds, activating. Training reads a sample of the whole directory: a national appointment only.
    "tune_linkage": frozenset({"relevance_admin", "national_admin"}),
    "train_linkage": frozenset({"national_admin"}),
    # Scope rather than a task: these act in every local authority (users, organisations, shielding, bulk reads);
    # the other roles holding such a task act only in their own authority (VisibilityPolicy.acts_for_authority).
    "act_in_every_authority": frozenset({"national_admin"}),
    "act_for_own_authority": frozenset({"la_management"}),  # so an account of this role needs its authority
    "review_every_authority": frozenset({"national_admin", "auditor"}),
    # Who may be issued API tokens, who acts on someone's behalf (X-Acting-For), and for whom.
    "hold_api_tokens": frozenset({"api_client"}),
    "act_on_behalf": frozenset({"api_client"}),
    "be_acted_for": frozenset({"practitioner"}),
    # Notifications (webapp/notifications): a service's practitioners hear of another service starting with a
    # child they work with; an authority's team hears of its children moving in or out.
    "hear_of_services": frozenset({"practitioner"}),
    "hear_of_moves": frozenset({"la_management"}),
}

# Roles an LA management team may give (within its own authority); the rest are national appointments.
LA_GRANTABLE_ROLES = frozenset({"practitioner", "la_management"})

# Roles that sign in to the web pages; API clients use tokens and the indexer neither.
INTERACTIVE_ROLES = frozenset({"practitioner", "la_management", "national_admin", "auditor", "relevance_admin"})

assert all(roles <= set(ROLES) for roles in PERMISSIONS.values())


def allowed(role: str, permission: str) -> bool:
    """Whether ``role`` has ``permission``; every role decision goes through here (a KeyError for a name not
    in the table, so a misspelt permission never silently refuses or grants)."""
    return role in PERMISSIONS[permission]
