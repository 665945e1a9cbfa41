"""What case-management systems use: the JSON API under /api/v1 and its OpenAPI document."""
from . import linkage  # noqa: F401 -- its routes join the blueprint
from .views import bp

__all__ = ["bp"]
