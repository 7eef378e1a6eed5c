"""Logins and sessions: the password and second factor checked, failures recorded with their
back-off (on the account and on the client address), sessions opened, used and ended."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import datetime, timedelta
from typing import Any, NoReturn

from ledger.accounts_service.base import AccountsBase
from ledger.accounts_service.results import NewSession
from ledger.conflicts import retrying
from ledger.credentials import code_digest, new_token, token_digest
from ledger.domain.accounts import (
    ACTIVE,
    Account,
    AccountNotFound,
    InvalidCredentials,
    LoginAddress,
    TooManyAttempts,
    login_address_id,
)
from ledger.domain.provenance import Channel, Provenance
from ledger.store.credentials import Credentials, SessionRow

TOUCH_EVERY = timedelta(seconds=30)
"""A session's last use is written at most this often (a write per request would be waste)."""


class Logins(AccountsBase):
    """Signing in and out, and the sessions in between."""

    def address_ref(self, address: str) -> str:
        """A client address as events name it: a keyed hash (the address is not kept)."""
        return hmac.new(
            self.ledger.id_key, f"address:{address}".encode(), hashlib.sha256
        ).hexdigest()[:32]

    def _address(self, ref: str) -> LoginAddress | None:
        return self._found(login_address_id(ref), LoginAddress)

    def login(
        self,
        email: str,
        password: str,
        second_factor: str,
        address: str,
        replacing: str | None = None,
    ) -> NewSession:
        """Check the password and the second factor (a TOTP code, or a recovery code) and open
        a session, ending ``replacing`` (the session id the browser had: rotation).

        Failures are events on the account and on the client address; repeated ones lock
        either (TooManyAttempts, with a back-off that doubles). Every failure answers the same
        InvalidCredentials."""
        now = self.now()
        ref = self.address_ref(address)
        place = self._address(ref)
        _refuse_locked(
            place.locked_at(now) if place else None, "too many failed logins from this address", now
        )
        try:
            found = self.account_by_email(email)
        except AccountNotFound:
            found = None
        _refuse_locked(
            found.locked_at(now) if found else None, "too many failed logins on this account", now
        )
        account, stored = self._password_checked(found, password, ref, now)
        factor, left = self._second_factor(
            account, stored.totp_secret, stored.totp_last_step, second_factor, now
        )
        if factor is None:
            self._failed(account, ref, "second_factor", now)
        session = self._open(account, now, replacing)
        self.forget_expired_sessions()
        if stored.password_hash and self.passwords.needs_rehash(stored.password_hash):
            self.store.put(account.id.hex, now, password_hash=self.passwords.hash(password))

        def logged_in(current: Account) -> None:
            prov = self._person(current).as_dict()
            current.logged_in(session.session_ref, ref, str(factor), prov)
            if left is not None:
                current.trigger_event(Account.RecoveryCodeUsed, remaining=left, provenance=prov)

        self._update(account.user_id, logged_in)
        return session

    def _password_checked(
        self, account: Account | None, password: str, ref: str, now: datetime
    ) -> tuple[Account, Credentials]:
        """The account and its proofs when the password is right and the account active; a
        failure recorded otherwise. The password is verified even for an unknown e-mail, so
        the time taken tells nothing."""
        stored = self.store.get(account.id.hex) if account is not None else None
        password_ok = self.passwords.verify(stored.password_hash if stored else None, password)
        if account is None or stored is None:
            self._failed(None, ref, "unknown_email", now)
        elif not password_ok:
            self._failed(account, ref, "password", now)
        elif account.status != ACTIVE or stored.status != ACTIVE:
            self._failed(account, ref, "inactive", now)
        return account, stored

    def _second_factor(
        self, account: Account, secret: str | None, last: int | None, given: str, now: datetime
    ) -> tuple[str | None, int | None]:
        """Which factor ``given`` is ("totp" or "recovery_code") when valid, and how many
        recovery codes are left after it."""
        digits = given.strip().replace(" ", "")
        if len(digits) == 6 and digits.isdigit():
            if secret is None:
                return None, None
            step = self.second_factor.matching_step(secret, digits, now, last)
            if step is None or not self.store.use_totp_step(account.id.hex, step, now):
                return None, None
            return "totp", None
        left = self.store.use_recovery_code(account.id.hex, code_digest(given), now)
        return ("recovery_code", left) if left is not None else (None, None)

    def _failed(self, account: Account | None, ref: str, reason: str, now: datetime) -> NoReturn:
        """Record a failed login and raise what the caller is told."""
        s = self.settings
        base = timedelta(seconds=s.login_lockout_seconds)
        window = timedelta(seconds=s.login_failure_window_seconds)
        who = self._person(account) if account else Provenance("anonymous", Channel.API)
        provenance = who.as_dict()

        def work() -> datetime | None:
            place = self._address(ref) or LoginAddress.create(ref, provenance)
            locked = place.failed(
                "unknown_email" if account is None else reason,
                now,
                window,
                s.login_address_max_failures,
                base,
                provenance,
            )
            saved: list[Any] = [place]
            if account is not None:
                current = self.account(account.user_id)
                locked = (
                    current.login_failed(reason, ref, now, s.login_max_failures, base, provenance)
                    or locked
                )
                saved.append(current)
            self.ledger.save(*saved)
            return locked

        _refuse_locked(retrying(work), "too many failed logins: try again later", now)
        raise InvalidCredentials("the e-mail, password or second factor is not right")

    def _open(self, account: Account, now: datetime, replacing: str | None) -> NewSession:
        session_id, csrf = new_token(), new_token()
        ref = uuid.uuid4().hex
        expires = now + self.absolute
        self.store.open_session(
            token_digest(session_id),
            ref,
            account.id.hex,
            (account.user_id, str(account.role), account.name, account.siret),
            csrf,
            now,
            expires,
            replacing=token_digest(replacing) if replacing else None,
        )
        return NewSession(
            session_id, csrf, ref, account.user_id, expires, min(now + self.idle, expires)
        )

    # --------------------------------------------------------------- sessions

    def session(self, session_id: str) -> SessionRow | None:
        """The live session of this id (its last use noted), or None: unknown, expired (idle
        or absolute), or its account no longer active."""
        if not session_id or len(session_id) > 200:
            return None
        digest = token_digest(session_id)
        row = self.store.session(digest)
        if row is None:
            return None
        now = self.now()
        if row.status != ACTIVE or now >= row.absolute_expiry or now >= row.last_seen + self.idle:
            self.store.end_session(digest)
            return None
        if now - row.last_seen >= TOUCH_EVERY:
            self.store.touch(digest, now)
        return row

    def idle_expiry(self, row: SessionRow) -> datetime:
        return min(max(row.last_seen, self.now()) + self.idle, row.absolute_expiry)

    def logout(self, session_id: str) -> None:
        """End this session (a logout is an event on the account)."""
        digest = token_digest(session_id)
        row = self.store.session(digest)
        self.store.end_session(digest)
        if row is None:
            return
        self._update(
            row.user_id, lambda a: a.logged_out(row.session_ref, self._person(a).as_dict())
        )

    def forget_expired_sessions(self) -> None:
        now = self.now()
        self.store.end_expired_sessions(now - self.idle, now)


def _refuse_locked(until: datetime | None, message: str, now: datetime) -> None:
    """TooManyAttempts, with the seconds to wait, while a lockout holds (``until``)."""
    if until:
        raise TooManyAttempts(message, retry=_seconds(until, now))


def _seconds(until: datetime, now: datetime) -> int:
    return max(1, int((until - now).total_seconds() + 0.999))
