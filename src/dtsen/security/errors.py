"""The errors of accounts, logins, access and the audit chain. Their messages never hold personal
data (no NIK, KK, name or address), since they reach logs and API responses."""

from __future__ import annotations

from dtsen.errors import DtsenError


class SecurityError(DtsenError):
    """Root of the security errors."""


class KeyFileError(SecurityError):
    """A key file is missing, unreadable, malformed, or readable by others."""


class PolicyError(SecurityError):
    """The policy rule table is inconsistent; every problem is listed with its line."""


class AccountError(SecurityError):
    """An account cannot be created or changed as asked (duplicate name, weak password, bad role)."""


class AuthenticationError(SecurityError):
    """Credentials or token are missing, wrong, expired or revoked."""


class LockedOutError(AuthenticationError):
    """Too many failed logins: the account name, client id or address waits until `retry_after`."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AccessDenied(SecurityError):
    """The policy does not allow this principal this action, purpose or record."""


class AuditError(SecurityError):
    """An audit entry cannot be written as asked (personal data in it, or outside a write transaction)."""
