"""What people do with their own proofs: activating their account with its one-time code (a
password and a second factor enrolled), changing the password, renewing the second factor."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ledger.accounts_service.base import AccountsBase
from ledger.accounts_service.results import EnrolmentRequired, InvalidSecondFactor
from ledger.credentials import Enrolment, code_digest, new_recovery_codes, same, token_digest
from ledger.domain.accounts import ACTIVE, Account, InvalidActivation, InvalidCredentials

UNKNOWN_CODE = "this activation code is unknown, expired or already used"


class Enrolments(AccountsBase):
    """Activation, password changes and second factor renewals, by the person."""

    def _pending(self, email: str, code: str) -> Account:
        account = self.account_by_email(email)
        if account is None:
            raise InvalidActivation(UNKNOWN_CODE)
        account.check_activable(self.now())
        stored = self.store.get(account.id.hex)
        if stored is None or stored.activation_digest is None:
            raise InvalidActivation(UNKNOWN_CODE)
        if not same(stored.activation_digest, code_digest(code)):
            raise InvalidActivation(UNKNOWN_CODE)
        return account

    def start_activation(self, email: str, code: str, secret: str | None = None) -> Enrolment:
        """Check the code and give the second factor to enrol (the code is not used yet).
        ``secret`` is for the demo logins only: people always get a random one."""
        account = self._pending(email, code)
        enrolment = self.second_factor.enrolment(account.email, secret)
        self.store.put(account.id.hex, self.now(), pending_totp=enrolment.secret)
        return enrolment

    def activate(self, email: str, code: str, password: str, totp_code: str) -> list[str]:
        """Use the code up: set the password, confirm the second factor with a code from it.
        Returns the recovery codes, to show once."""
        account = self._pending(email, code)
        secret = self._enrolling(account)
        self.passwords.check_policy(password)
        now = self.now()
        step = self._confirmed(secret, totp_code, now)
        if not self.store.take_activation(account.id.hex, code_digest(code), now):
            raise InvalidActivation(UNKNOWN_CODE)
        recovery = self._enrol(
            account, secret, step, now, status=ACTIVE, password_hash=self.passwords.hash(password)
        )
        provenance = self._person(account).as_dict()
        self._update(account.user_id, lambda a: a.activate(now, provenance))
        return recovery

    def _enrolling(self, account: Account) -> str:
        """The second factor's secret being enrolled; EnrolmentRequired when there is none."""
        stored = self.store.get(account.id.hex)
        assert stored is not None
        if stored.pending_totp is None:
            raise EnrolmentRequired("ask for the second factor to enrol first")
        return stored.pending_totp

    def _confirmed(self, secret: str, totp_code: str, now: datetime) -> int:
        """The time step of ``totp_code`` when it comes from ``secret`` (InvalidSecondFactor
        when it does not)."""
        step = self.second_factor.matching_step(secret, totp_code, now, None)
        if step is None:
            raise InvalidSecondFactor("this code does not come from the second factor enrolled")
        return step

    def _enrol(
        self, account: Account, secret: str, step: int, now: datetime, **more: Any
    ) -> list[str]:
        """Make the confirmed secret the account's second factor (``step`` used up) with new
        recovery codes, returned to show once; ``more`` columns change with them."""
        recovery = new_recovery_codes()
        self.store.put(
            account.id.hex,
            now,
            **more,
            totp_secret=secret,
            totp_last_step=step,
            pending_totp=None,
            recovery_digests=[code_digest(c) for c in recovery],
        )
        return recovery

    # ------------------------------------------------------------ signed in

    def _reauthenticated(self, user_id: str, password: str) -> Account:
        account = self.account(user_id)
        account.require_active()
        stored = self.store.get(account.id.hex)
        if stored is None or not self.passwords.verify(stored.password_hash, password):
            raise InvalidCredentials("the password is not right")
        return account

    def change_password(self, user_id: str, current: str, new: str, keep: str | None) -> None:
        """A person changes their password; their other sessions end."""
        account = self._reauthenticated(user_id, current)
        self.passwords.check_policy(new)
        now = self.now()
        self.store.put(account.id.hex, now, password_hash=self.passwords.hash(new))
        self.store.end_sessions_of(account.id.hex, keep=token_digest(keep) if keep else None)
        self._changed(user_id, Account.PasswordChanged)

    def start_renewal(self, user_id: str, password: str) -> Enrolment:
        """A new second factor to enrol (the current one works until it is confirmed)."""
        account = self._reauthenticated(user_id, password)
        enrolment = self.second_factor.enrolment(account.email)
        self.store.put(account.id.hex, self.now(), pending_totp=enrolment.secret)
        return enrolment

    def renew_second_factor(self, user_id: str, password: str, totp_code: str) -> list[str]:
        """Confirm the new second factor with a code from it; new recovery codes (shown once)."""
        account = self._reauthenticated(user_id, password)
        secret = self._enrolling(account)
        now = self.now()
        recovery = self._enrol(account, secret, self._confirmed(secret, totp_code, now), now)
        self._changed(user_id, Account.SecondFactorRenewed)
        return recovery

    def _changed(self, user_id: str, kind: type[Account.Event]) -> None:
        self._update(user_id, lambda a: a.credentials_changed(kind, self._person(a).as_dict()))
