"""People's accounts: enabling them, activation, logins and sessions, and their life cycle.

Commands record events on the :class:`~ledger.domain.accounts.Account` (who did what, never a
secret) and keep the proofs hashed in the :class:`~ledger.store.credentials.CredentialStore`.
Where both change, the credential store changes first in the direction that refuses (a
deactivated account's status before its event), so an interruption never leaves a door open.
Who may manage which account is decided by ``projections.scope``, in the callers.

The service is one object made of its concerns: ``life_cycle`` (managers enable, deactivate,
reset, remove), ``enrolment`` (people activate and renew their proofs), ``logins`` (sign-in,
back-off, sessions), over ``base`` (collaborators and reading).
"""

from __future__ import annotations

from ledger.accounts_service.enrolment import Enrolments
from ledger.accounts_service.life_cycle import LifeCycle
from ledger.accounts_service.logins import TOUCH_EVERY, Logins
from ledger.accounts_service.results import (
    Activation,
    Enabled,
    EnrolmentRequired,
    InvalidSecondFactor,
    NewSession,
)

__all__ = [
    "TOUCH_EVERY",
    "AccountService",
    "Activation",
    "Enabled",
    "EnrolmentRequired",
    "InvalidSecondFactor",
    "NewSession",
]


class AccountService(LifeCycle, Enrolments, Logins):
    """Accounts of people over the ledger (events) and the credential store (proofs)."""
