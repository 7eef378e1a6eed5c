"""Managing accounts: enabling a person, issuing activation codes, deactivating, reactivating,
resetting and removing. The credential store changes first in the direction that refuses."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from eventsourcing.persistence import IntegrityError

from ledger.accounts_service.base import AccountsBase
from ledger.accounts_service.results import Activation, Enabled
from ledger.conflicts import retrying
from ledger.credentials import code_digest, new_activation_code
from ledger.domain import errors
from ledger.domain.access import Establishment, Profile, Role
from ledger.domain.accounts import (
    INACTIVE,
    PENDING,
    REMOVED,
    Account,
    AccountConflict,
    AccountNotFound,
    EmailAlreadyUsed,
    EmailIndex,
    email_index_id,
    normalise_email,
)
from ledger.domain.provenance import Provenance


class LifeCycle(AccountsBase):
    """An account from its creation to its removal, as managers drive it."""

    def create(
        self,
        role: Role,
        name: str,
        email: str,
        provenance: Provenance,
        siret: str | None = None,
        profile: Profile | None = None,
        user_id: str | None = None,
        new_user_id: str | None = None,
    ) -> Enabled:
        """Enable a person: an employer user of ``siret`` with ``profile`` (a new user, or the
        existing ``user_id``), or a CDC operator or auditor; then issue an activation code.

        ``new_user_id`` fixes the id of a new user (a habilitation file's line), so a line
        applied again finds its account instead of making another (``created`` is then False
        and no code is issued).
        """
        address = normalise_email(email)
        _check_belonging(role, siret, profile, user_id)
        chosen = user_id or new_user_id or str(uuid.uuid4())
        if new_user_id is not None:
            try:
                return Enabled(self.account(new_user_id), self._no_code(), created=False)
            except AccountNotFound:
                pass
        prov = provenance.as_dict()

        def work() -> Account:
            index = self._free_index(address)
            establishment = self._member_of(siret, user_id, chosen, name, profile, prov)
            belongs = establishment.siret if establishment is not None else None
            account = Account.create(chosen, role, name, address, belongs, prov)
            if index is None:
                index = EmailIndex.create(address, account.id, prov)
            else:
                index.repoint(account.id, prov)
            self._save_new(account, index, establishment)
            return account

        account = retrying(work)
        self.store.put(account.id.hex, self.now(), status=PENDING)
        activation = self.issue_activation(account.user_id, provenance)
        return Enabled(self.account(account.user_id), activation)

    def _member_of(
        self,
        siret: str | None,
        user_id: str | None,
        chosen: str,
        name: str,
        profile: Profile | None,
        provenance: dict[str, Any],
    ) -> Establishment | None:
        """The establishment an employer's new account belongs to, the new user ``chosen``
        granted on it (unless the account is for its existing ``user_id``); None for CDC staff."""
        if siret is None:
            return None
        establishment = self.access.establishment(siret)
        if user_id is not None:
            if establishment.profile_of(user_id) is None:
                raise errors.UserNotFound("no such user in this establishment")
        else:
            assert profile is not None
            establishment.grant_user(chosen, name, profile, provenance)
        return establishment

    def _save_new(
        self, account: Account, index: EmailIndex, establishment: Establishment | None
    ) -> None:
        """Save a new account with its e-mail index (and its establishment), in one go; a
        conflict says which of them another writer took first."""
        saved = [establishment, index] if establishment is not None else [index]
        try:
            self.ledger.save(*saved, account)
        except IntegrityError:
            if self._free_index(account.email, raising=False) is False:
                raise EmailAlreadyUsed("this e-mail address has an account already") from None
            if self._has_account(account.user_id):
                raise AccountConflict("this user has an account already") from None
            raise  # a concurrent change of the establishment: try again

    def _no_code(self) -> Activation:
        return Activation(self.now(), None, None)

    def _free_index(self, address: str, raising: bool = True) -> Any:
        """The e-mail's index when it may be (re)used (None: unused); EmailAlreadyUsed when an
        account that was not removed holds it (False instead with ``raising=False``)."""
        index = self._found(email_index_id(address), EmailIndex)
        if index is None:
            return None
        holder = self.ledger.aggregate(index.account_id, Account, AccountNotFound("unused"))
        if holder.status != REMOVED:
            if raising:
                raise EmailAlreadyUsed("this e-mail address has an account already")
            return False
        return index

    def issue_activation(self, user_id: str, provenance: Provenance) -> Activation:
        """A new one-time code for a pending account: e-mailed when a server is configured,
        else returned to be shown once. Any earlier code stops working."""
        account = self.account(user_id)
        if account.status != PENDING:
            raise AccountConflict(f"the account is {account.status}: reset it to activate it again")
        now = self.now()
        code = new_activation_code()
        expires = now + timedelta(hours=self.settings.activation_hours)
        self.store.put(account.id.hex, now, activation_digest=code_digest(code), pending_totp=None)
        sent = self.mailer.send_activation(account.email, account.name, code, expires)
        delivery = "email" if sent else "shown"
        self._update(user_id, lambda a: a.issue_activation(expires, delivery, provenance.as_dict()))
        return Activation(expires, None if sent else code, account.email if sent else None)

    def deactivate(self, user_id: str, provenance: Provenance, reason: str = "deactivated") -> None:
        """The account stops signing in and its sessions end, at once."""
        account = self.account(user_id)
        if account.status in (INACTIVE, REMOVED) and reason != "removed":
            raise AccountConflict(f"the account is already {account.status}")
        self.store.put(
            account.id.hex, self.now(), status=REMOVED if reason == "removed" else INACTIVE
        )
        self.store.end_sessions_of(account.id.hex)
        self._update(user_id, lambda a: a.deactivate(provenance.as_dict(), reason))

    def reactivate(self, user_id: str, provenance: Provenance) -> Account:
        account = self._update(user_id, lambda a: a.reactivate(provenance.as_dict()))
        self.store.put(account.id.hex, self.now(), status=account.status)
        return account

    def reset(self, user_id: str, provenance: Provenance) -> Activation:
        """Forget the password and second factor, end the sessions, issue a new code."""
        account = self.account(user_id)
        if account.status == REMOVED:
            raise AccountConflict("the account was removed from its establishment")
        self.store.put(
            account.id.hex,
            self.now(),
            status=PENDING,
            password_hash=None,
            totp_secret=None,
            totp_last_step=None,
            pending_totp=None,
            activation_digest=None,
            recovery_digests=[],
        )
        self.store.end_sessions_of(account.id.hex)
        self._update(user_id, lambda a: a.reset(provenance.as_dict()))
        return self.issue_activation(user_id, provenance)

    def remove_user(self, siret: str, user_id: str, provenance: Provenance) -> None:
        """Remove a user from its establishment: its keys stop working (they are checked
        against the establishment on every request) and its account and sessions end."""
        self.access.revoke_user(siret, user_id, provenance)
        if self._has_account(user_id):
            self.deactivate(user_id, provenance, reason="removed")


def _check_belonging(
    role: Role, siret: str | None, profile: Profile | None, user_id: str | None
) -> None:
    """An employer's account names its establishment and a profile (or an existing user);
    CDC staff's name neither."""
    if role is Role.EMPLOYER:
        if siret is None or (profile is None and user_id is None):
            raise errors.InvalidInput("an employer's account names its SIRET and profile")
    elif siret is not None or user_id is not None:
        raise errors.InvalidInput("CDC staff belong to no establishment")
