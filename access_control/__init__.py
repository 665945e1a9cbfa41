"""Who may do what, what they may see, and the audit trail of every access."""
from . import audit
from .errors import InvalidInput, NotAllowed, NotSignedIn
from .permissions import INTERACTIVE_ROLES, allowed
from .visibility import PURPOSES, ROLES, Viewer, VisibilityPolicy

__all__ = ["INTERACTIVE_ROLES", "InvalidInput", "NotAllowed", "NotSignedIn", "PURPOSES", "ROLES", "Viewer",
           "VisibilityPolicy", "allowed", "audit"]
