"""Who may do what, what they may see, and the audit trail of every access."""
from . import audit
from .visibility import ROLES, Viewer, VisibilityPolicy

__all__ = ["ROLES", "Viewer", "VisibilityPolicy", "audit"]
