"""What every part of the account service shares: its collaborators, its clock, and reading
accounts (by user id, by e-mail, an establishment's)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from eventsourcing.domain import Aggregate

from ledger.access_service import AccessService
from ledger.application import Ledger
from ledger.conflicts import update
from ledger.credentials import Passwords, SecondFactor
from ledger.domain import errors
from ledger.domain.access import Profile
from ledger.domain.accounts import Account, AccountNotFound, EmailIndex, account_id, email_index_id
from ledger.domain.provenance import Channel, Provenance
from ledger.mail import Mailer
from ledger.store.credentials import CredentialStore
from ledger.store.settings import Settings

A = TypeVar("A", bound=Aggregate)


class AccountsBase:
    """Accounts of people over the ledger (events) and the credential store (proofs)."""

    def __init__(
        self,
        ledger: Ledger,
        access: AccessService,
        store: CredentialStore,
        settings: Settings,
        mailer: Mailer | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.ledger = ledger
        self.access = access
        self.store = store
        self.settings = settings
        self.mailer = mailer or Mailer(settings)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.passwords = Passwords(settings)
        self.second_factor = SecondFactor(settings.totp_issuer)
        self.idle = timedelta(minutes=settings.session_idle_minutes)
        self.absolute = timedelta(hours=settings.session_absolute_hours)

    def now(self) -> datetime:
        return self.clock()

    def _update(self, user_id: str, change: Callable[[Account], Any]) -> Account:
        """Change the user's account and save it (again on a version conflict)."""
        return update(self.ledger, lambda: self.account(user_id), change)

    def _found(self, key: uuid.UUID, kind: type[A]) -> A | None:
        """The aggregate of this id when there is one of this kind, else None."""
        try:
            return self.ledger.aggregate(key, kind, AccountNotFound("unused"))
        except AccountNotFound:
            return None

    @staticmethod
    def _person(account: Account, channel: Channel = Channel.API) -> Provenance:
        """Provenance of what a person does themself: the person is the principal."""
        return Provenance(f"{account.role}:user:{account.user_id}", channel)

    # ---------------------------------------------------------------- reading

    def account(self, user_id: str) -> Account:
        """The account of a user; AccountNotFound when it has none."""
        try:
            key = account_id(str(uuid.UUID(user_id)))
        except ValueError:
            raise AccountNotFound("no such account") from None
        return self.ledger.aggregate(key, Account, AccountNotFound("no such account"))

    def _has_account(self, user_id: str) -> bool:
        try:
            self.account(user_id)
        except AccountNotFound:
            return False
        return True

    def account_by_email(self, email: str) -> Account | None:
        try:
            key = email_index_id(email)
        except errors.InvalidInput:
            return None
        index = self._found(key, EmailIndex)
        if index is None:
            return None
        return self.ledger.aggregate(index.account_id, Account, AccountNotFound("no such account"))

    def profile_of(self, account: Account) -> Profile | None:
        """An employer's profile on its establishment (None: removed, or not an employer)."""
        if account.siret is None:
            return None
        try:
            return self.access.establishment(account.siret).profile_of(account.user_id)
        except errors.EstablishmentNotFound:
            return None

    def accounts_of(self, siret: str) -> list[dict[str, Any]]:
        """The accounts of an establishment's users, as managers see them."""
        establishment = self.access.establishment(siret)
        found = []
        for user_id in establishment.users:
            try:
                account = self.account(user_id)
            except AccountNotFound:
                continue
            found.append(account.summary(establishment.profile_of(user_id)))
        return sorted(found, key=lambda a: (a["name"], a["user_id"]))
