"""What access_control refuses, in terms the front ends can map to 400/401/403."""
from __future__ import annotations


class InvalidInput(ValueError):
    """Bad input; ``field`` names what is wrong (a 400)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotAllowed(PermissionError):
    """The caller may not do this (a 403)."""


class NotSignedIn(PermissionError):
    """No valid credentials (a 401); ``reason`` is recorded in the audit trail."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason
