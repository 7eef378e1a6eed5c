"""What an account refuses, each with its stable code (the API's problem types name them)."""

from __future__ import annotations

from ledger.domain import errors


class InvalidCredentials(errors.DomainError):
    """Unknown e-mail, wrong password, wrong or replayed second factor, account not active: one
    answer for all, so a login tells nothing about which part was wrong."""

    code = "invalid_credentials"


class TooManyAttempts(errors.DomainError):
    """The account or the client address is locked after repeated failures (until ``retry``)."""

    code = "too_many_attempts"


class InvalidActivation(errors.DomainError):
    """Unknown, expired or already used activation code (one answer for all three)."""

    code = "invalid_activation"


class WeakPassword(errors.InvalidInput):
    code = "weak_password"


class EmailAlreadyUsed(errors.DomainError):
    code = "email_already_used"


class AccountConflict(errors.DomainError):
    """The account's state refuses this (deactivating an inactive account…)."""

    code = "account_state_conflict"


class InvalidEmail(errors.InvalidInput):
    code = "invalid_email"


class AccountNotFound(errors.UserNotFound):
    code = "account_not_found"
