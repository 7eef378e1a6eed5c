"""What a login looks up before it knows the account: the e-mail index (one account per address)
and the client address (failures and lockouts of one address, whichever accounts it tries)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from eventsourcing.domain import Aggregate

from ledger.domain.accounts.account import lockout_length
from ledger.domain.accounts.names import email_index_id, login_address_id, normalise_email
from ledger.domain.topics import pin_topics


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


pin_topics("ledger.accounts", EmailIndex, LoginAddress)
