"""What case-management systems use: the JSON API under /api/v1 and its OpenAPI document."""
from .views import bp

__all__ = ["bp"]
