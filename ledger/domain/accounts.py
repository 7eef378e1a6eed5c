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

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from eventsourcing.domain import Aggregate

from ledger.domain import errors
from ledger.domain.access import Profile, Role
from ledger.domain.topics import pin_topics

NAMESPACE = uuid.UUID("9a4c3f0e-2b71-4d5a-8f7e-6c1d0b9e8a21")
MAX_LOCKOUT = timedelta(hours=24)

PENDING, ACTIVE, INACTIVE, REMOVED = "pending", "active", "inactive", "removed"


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


def normalise_email(email: str) -> str:
    """The form an address is compared in: trimmed, lower case; refused when it is not one."""
    value = email.strip().lower()
    local, at, domain = value.partition("@")
    if (
        not at
        or not local
        or "." not in domain
        or domain.startswith(".")
        or domain.endswith(".")
        or len(value) > 254
        or any(c.isspace() or not c.isprintable() or c in '<>()[],;:"\\' for c in value)
        or "@" in domain
    ):
        raise InvalidEmail("not an e-mail address")
    return value


def account_id(user_id: str) -> uuid.UUID:
    """The account of a user (an employer user of an establishment, or a CDC person)."""
    return uuid.uuid5(NAMESPACE, f"account:{user_id}")


def email_index_id(email: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"email:{normalise_email(email)}")


def login_address_id(address_ref: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"address:{address_ref}")


def lockout_length(base: timedelta, lockouts_in_a_row: int) -> timedelta:
    """Back-off: the first lockout lasts ``base``, each further one in a row twice the last,
    never more than a day."""
    length: timedelta = base * (2 ** max(lockouts_in_a_row - 1, 0))
    return min(length, MAX_LOCKOUT)


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
            aggregate.failures = aggregate.lockouts = 0
            aggregate.locked_until = None

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
            aggregate.failures = aggregate.lockouts = 0
            aggregate.locked_until = None

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
            aggregate.failures = aggregate.lockouts = 0
            aggregate.locked_until = None

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
            aggregate.failures = aggregate.lockouts = 0
            aggregate.locked_until = None
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


class EmailIndex(Aggregate):
    """Which account an e-mail address signs in to (created in the account's ``save()``, so two
    accounts never share an address). An address whose account was removed may be given to a
    new account."""

    class Event(Aggregate.Event):
        provenance: dict[str, Any]

    class Created(Aggregate.Created, Event):
        email: str
        account_id: uuid.UUID

    def __init__(self, email: str, account_id: uuid.UUID) -> None:
        self.email = email
        self.account_id = account_id

    @classmethod
    def create(cls, email: str, account: uuid.UUID, provenance: dict[str, Any]) -> EmailIndex:
        return cls._create(
            cls.Created,
            id=email_index_id(email),
            email=normalise_email(email),
            account_id=account,
            provenance=provenance,
        )

    class Repointed(Event):
        account_id: uuid.UUID

        def apply(self, aggregate: Any) -> None:
            aggregate.account_id = self.account_id

    def repoint(self, account: uuid.UUID, provenance: dict[str, Any]) -> None:
        self.trigger_event(self.Repointed, account_id=account, provenance=provenance)


class LoginAddress(Aggregate):
    """Failed logins from one client address (named by a keyed hash, never in clear), and its
    lockouts: the back-off that holds whichever accounts an address tries."""

    class Event(Aggregate.Event):
        provenance: dict[str, Any]

    class Created(Aggregate.Created, Event):
        address_ref: str

    def __init__(self, address_ref: str) -> None:
        self.address_ref = address_ref
        self.failures: list[datetime] = []
        self.lockouts = 0
        self.locked_until: datetime | None = None

    @classmethod
    def create(cls, address_ref: str, provenance: dict[str, Any]) -> LoginAddress:
        return cls._create(
            cls.Created,
            id=login_address_id(address_ref),
            address_ref=address_ref,
            provenance=provenance,
        )

    class Failed(Event):
        reason: str  # unknown_email, password, second_factor, inactive
        at: datetime

        def apply(self, aggregate: Any) -> None:
            aggregate.failures.append(self.at)

    class LockedOut(Event):
        until: datetime
        failures: int

        def apply(self, aggregate: Any) -> None:
            aggregate.locked_until = self.until
            aggregate.lockouts += 1
            aggregate.failures = []

    def locked_at(self, now: datetime) -> datetime | None:
        return self.locked_until if self.locked_until and now < self.locked_until else None

    def failed(
        self,
        reason: str,
        now: datetime,
        window: timedelta,
        max_failures: int,
        base_lockout: timedelta,
        provenance: dict[str, Any],
    ) -> datetime | None:
        """Record a failure; after ``max_failures`` within ``window`` the address is locked."""
        self.trigger_event(self.Failed, reason=reason, at=now, provenance=provenance)
        recent = [at for at in self.failures if now - at < window]
        if len(recent) < max_failures:
            return None
        quiet = self.locked_until is None or now - self.locked_until > window
        lockouts = 1 if quiet else self.lockouts + 1
        until = now + lockout_length(base_lockout, lockouts)
        self.trigger_event(self.LockedOut, until=until, failures=len(recent), provenance=provenance)
        return until


pin_topics("ledger.accounts", Account, EmailIndex, LoginAddress)
