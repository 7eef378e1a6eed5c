"""One person's account: its life cycle (activation, deactivation, reset), its logins and
failures, and the back-off that locks it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from eventsourcing.domain import Aggregate

from ledger.domain import errors
from ledger.domain.access import Profile, Role
from ledger.domain.accounts.names import account_id, normalise_email
from ledger.domain.accounts.refusals import (
    AccountConflict,
    InvalidActivation,
    InvalidCredentials,
)
from ledger.domain.topics import pin_topics

MAX_LOCKOUT = timedelta(hours=24)

PENDING, ACTIVE, INACTIVE, REMOVED = "pending", "active", "inactive", "removed"


def lockout_length(base: timedelta, lockouts_in_a_row: int) -> timedelta:
    """Back-off: the first lockout lasts ``base``, each further one in a row twice the last,
    never more than a day."""
    length: timedelta = base * (2 ** max(lockouts_in_a_row - 1, 0))
    return min(length, MAX_LOCKOUT)


def _clear_back_off(account: Any) -> None:
    """No failure counted and no lockout held: the back-off starts again from ``base``."""
    account.failures = account.lockouts = 0
    account.locked_until = None


class Account(Aggregate):
    """One person's account."""

    class Event(Aggregate.Event):
        provenance: dict[str, Any]

    class Created(Aggregate.Created, Event):
        user_id: str
        role: str
        name: str
        email: str
        siret: str | None

    def __init__(self, user_id: str, role: str, name: str, email: str, siret: str | None) -> None:
        self.user_id = user_id
        self.role = Role(role)
        self.name = name
        self.email = email
        self.siret = siret
        self.status = PENDING
        self.activated_once = False
        self.activation_expires: datetime | None = None
        self.failures = 0
        self.lockouts = 0
        self.locked_until: datetime | None = None
        self.last_login: datetime | None = None

    @classmethod
    def create(
        cls,
        user_id: str,
        role: Role,
        name: str,
        email: str,
        siret: str | None,
        provenance: dict[str, Any],
    ) -> Account:
        if not name.strip() or not name.isprintable():
            raise errors.InvalidInput("a person needs a name, in printable characters")
        if (role is Role.EMPLOYER) != (siret is not None):
            raise errors.InvalidInput("an employer's account belongs to an establishment")
        return cls._create(
            cls.Created,
            id=account_id(user_id),
            user_id=user_id,
            role=str(role),
            name=name.strip(),
            email=normalise_email(email),
            siret=siret,
            provenance=provenance,
        )

    # ------------------------------------------------------------- activation

    class ActivationIssued(Event):
        """A one-time code was issued (its hash is in the credential store, not here)."""

        expires_at: datetime
        delivery: str  # "email" or "shown"

        def apply(self, aggregate: Any) -> None:
            aggregate.activation_expires = self.expires_at

    def issue_activation(
        self, expires_at: datetime, delivery: str, provenance: dict[str, Any]
    ) -> None:
        if self.status != PENDING:
            raise AccountConflict(f"the account is {self.status}: reset it to activate it again")
        self.trigger_event(
            self.ActivationIssued, expires_at=expires_at, delivery=delivery, provenance=provenance
        )

    def check_activable(self, now: datetime) -> None:
        if self.status != PENDING or self.activation_expires is None:
            raise InvalidActivation("this activation code is unknown, expired or already used")
        if now >= self.activation_expires:
            raise InvalidActivation("this activation code is unknown, expired or already used")

    class Activated(Event):
        """The person set a password and enrolled a second factor."""

        def apply(self, aggregate: Any) -> None:
            aggregate.status = ACTIVE
            aggregate.activated_once = True
            aggregate.activation_expires = None
            _clear_back_off(aggregate)

    def activate(self, now: datetime, provenance: dict[str, Any]) -> None:
        self.check_activable(now)
        self.trigger_event(self.Activated, provenance=provenance)

    # ----------------------------------------------------- managed life cycle

    class Deactivated(Event):
        reason: str

        def apply(self, aggregate: Any) -> None:
            aggregate.status = REMOVED if self.reason == "removed" else INACTIVE

    def deactivate(self, provenance: dict[str, Any], reason: str = "deactivated") -> None:
        if self.status in (INACTIVE, REMOVED) and reason != "removed":
            raise AccountConflict(f"the account is already {self.status}")
        if self.status != REMOVED:
            self.trigger_event(self.Deactivated, reason=reason, provenance=provenance)

    class Reactivated(Event):
        def apply(self, aggregate: Any) -> None:
            aggregate.status = ACTIVE if aggregate.activated_once else PENDING
            _clear_back_off(aggregate)

    def reactivate(self, provenance: dict[str, Any]) -> None:
        if self.status != INACTIVE:
            raise AccountConflict(f"the account is {self.status}: only an inactive one reactivates")
        self.trigger_event(self.Reactivated, provenance=provenance)

    class Reset(Event):
        """Password and second factor forgotten: the account waits for a new activation."""

        def apply(self, aggregate: Any) -> None:
            aggregate.status = PENDING
            aggregate.activated_once = False
            aggregate.activation_expires = None
            _clear_back_off(aggregate)

    def reset(self, provenance: dict[str, Any]) -> None:
        if self.status == REMOVED:
            raise AccountConflict("the account was removed from its establishment")
        self.trigger_event(self.Reset, provenance=provenance)

    class PasswordChanged(Event):
        pass

    class SecondFactorRenewed(Event):
        pass

    class RecoveryCodeUsed(Event):
        remaining: int

    def require_active(self) -> None:
        if self.status != ACTIVE:
            raise InvalidCredentials("this account cannot sign in")

    def credentials_changed(self, kind: type[Event], provenance: dict[str, Any]) -> None:
        """A password change or a second factor renewed by the person."""
        self.require_active()
        self.trigger_event(kind, provenance=provenance)

    # ----------------------------------------------------------------- logins

    def locked_at(self, now: datetime) -> datetime | None:
        """Until when the account is locked, or None."""
        return self.locked_until if self.locked_until and now < self.locked_until else None

    class LoggedIn(Event):
        session_ref: str
        address_ref: str
        factor: str  # "totp" or "recovery_code"

        def apply(self, aggregate: Any) -> None:
            _clear_back_off(aggregate)
            aggregate.last_login = self.timestamp

    def logged_in(
        self, session_ref: str, address_ref: str, factor: str, provenance: dict[str, Any]
    ) -> None:
        self.require_active()
        self.trigger_event(
            self.LoggedIn,
            session_ref=session_ref,
            address_ref=address_ref,
            factor=factor,
            provenance=provenance,
        )

    class LoginFailed(Event):
        reason: str  # password, second_factor, inactive
        address_ref: str

        def apply(self, aggregate: Any) -> None:
            aggregate.failures += 1

    class LockedOut(Event):
        until: datetime
        failures: int

        def apply(self, aggregate: Any) -> None:
            aggregate.locked_until = self.until
            aggregate.lockouts += 1
            aggregate.failures = 0

    def login_failed(
        self,
        reason: str,
        address_ref: str,
        now: datetime,
        max_failures: int,
        base_lockout: timedelta,
        provenance: dict[str, Any],
    ) -> datetime | None:
        """Record a failure; after ``max_failures`` in a row the account is locked (returns
        until when)."""
        self.trigger_event(
            self.LoginFailed, reason=reason, address_ref=address_ref, provenance=provenance
        )
        if self.failures < max_failures:
            return None
        until = now + lockout_length(base_lockout, self.lockouts + 1)
        self.trigger_event(
            self.LockedOut, until=until, failures=self.failures, provenance=provenance
        )
        return until

    class LoggedOut(Event):
        session_ref: str

    def logged_out(self, session_ref: str, provenance: dict[str, Any]) -> None:
        self.trigger_event(self.LoggedOut, session_ref=session_ref, provenance=provenance)

    def summary(self, profile: Profile | None = None) -> dict[str, Any]:
        """What a manager sees of an account (never a credential)."""
        return {
            "user_id": self.user_id,
            "role": str(self.role),
            "name": self.name,
            "email": self.email,
            "siret": self.siret,
            "profile": str(profile) if profile else None,
            "status": self.status,
            "activation_expires_at": (
                self.activation_expires.isoformat() if self.activation_expires else None
            ),
            "last_login": self.last_login.isoformat() if self.last_login else None,
        }


pin_topics("ledger.accounts", Account)
