"""People's accounts as events: an employer user's, an operator's or an auditor's.

An account is the life cycle of one person's credentials: created with an e-mail address,
activated with a one-time code (the person sets a password and enrols a second factor),
deactivated, reactivated, reset, and every login, failure and lockout. The events carry facts
only: no password, code, secret or hash of one is ever in an event (those live hashed in the
credential store, ``ledger.store.credentials``).

Two small aggregates keep what a login needs to find: the e-mail index (one account per
address, the uniqueness enforced in the account's own ``save()``) and a login address (failures
and lockouts of one client address, which may try many accounts).
"""

from ledger.domain.accounts.account import (
    ACTIVE,
    INACTIVE,
    MAX_LOCKOUT,
    PENDING,
    REMOVED,
    Account,
    lockout_length,
)
from ledger.domain.accounts.logins import EmailIndex, LoginAddress
from ledger.domain.accounts.names import (
    NAMESPACE,
    account_id,
    email_index_id,
    login_address_id,
    normalise_email,
)
from ledger.domain.accounts.refusals import (
    AccountConflict,
    AccountNotFound,
    EmailAlreadyUsed,
    InvalidActivation,
    InvalidCredentials,
    InvalidEmail,
    TooManyAttempts,
    WeakPassword,
)

__all__ = [
    "ACTIVE",
    "INACTIVE",
    "MAX_LOCKOUT",
    "NAMESPACE",
    "PENDING",
    "REMOVED",
    "Account",
    "AccountConflict",
    "AccountNotFound",
    "EmailAlreadyUsed",
    "EmailIndex",
    "InvalidActivation",
    "InvalidCredentials",
    "InvalidEmail",
    "LoginAddress",
    "TooManyAttempts",
    "WeakPassword",
    "account_id",
    "email_index_id",
    "lockout_length",
    "login_address_id",
    "normalise_email",
]
