"""People's accounts: enabling them, activation, logins and sessions, and their life cycle.

Commands record events on the :class:`~ledger.domain.accounts.Account` (who did what, never a
secret) and keep the proofs hashed in the :class:`~ledger.store.credentials.CredentialStore`.
Where both change, the credential store changes first in the direction that refuses (a
deactivated account's status before its event), so an interruption never leaves a door open.
Who may manage which account is decided by ``projections.scope``, in the callers.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from eventsourcing.persistence import IntegrityError

from ledger.access_service import AccessService
from ledger.application import Ledger
from ledger.conflicts import retrying, update
from ledger.credentials import (
    Enrolment,
    Passwords,
    SecondFactor,
    code_digest,
    new_activation_code,
    new_recovery_codes,
    new_token,
    same,
    token_digest,
)
from ledger.domain import errors
from ledger.domain.access import Profile, Role
from ledger.domain.accounts import (
    ACTIVE,
    INACTIVE,
    PENDING,
    REMOVED,
    Account,
    AccountConflict,
    AccountNotFound,
    EmailAlreadyUsed,
    EmailIndex,
    InvalidActivation,
    InvalidCredentials,
    LoginAddress,
    TooManyAttempts,
    account_id,
    email_index_id,
    login_address_id,
    normalise_email,
)
from ledger.domain.provenance import Channel, Provenance
from ledger.mail import Mailer
from ledger.store.credentials import CredentialStore, SessionRow
from ledger.store.settings import Settings

TOUCH_EVERY = timedelta(seconds=30)
"""A session's last use is written at most this often (a write per request would be waste)."""


class InvalidSecondFactor(errors.InvalidInput):
    """At enrolment: the code does not come from the secret being enrolled."""

    code = "invalid_second_factor"


class EnrolmentRequired(AccountConflict):
    code = "enrolment_required"


@dataclass(frozen=True)
class Activation:
    """A one-time code issued: e-mailed (``sent_to``), or ``code`` to show once."""

    expires_at: datetime
    code: str | None
    sent_to: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "expires_at": self.expires_at.isoformat(),
            "code": self.code,
            "sent_to": self.sent_to,
        }


@dataclass(frozen=True)
class Enabled:
    """A person enabled: the account and its first activation code."""

    account: Account
    activation: Activation
    created: bool = True


@dataclass(frozen=True)
class NewSession:
    """A session opened at login: ``session_id`` goes into the cookie and is never kept."""

    session_id: str
    csrf_token: str
    session_ref: str
    user_id: str
    expires_at: datetime
    idle_expires_at: datetime


class AccountService:
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

    # ---------------------------------------------------------------- reading

    def account(self, user_id: str) -> Account:
        """The account of a user; AccountNotFound when it has none."""
        try:
            key = account_id(str(uuid.UUID(user_id)))
        except ValueError:
            raise AccountNotFound("no such account") from None
        return self.ledger.aggregate(key, Account, AccountNotFound("no such account"))

    def account_by_email(self, email: str) -> Account | None:
        try:
            index = self.ledger.aggregate(
                email_index_id(email), EmailIndex, AccountNotFound("no such account")
            )
        except (AccountNotFound, errors.InvalidInput):
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

    # ------------------------------------------------------------- managing

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
        if role is Role.EMPLOYER:
            if siret is None or (profile is None and user_id is None):
                raise errors.InvalidInput("an employer's account names its SIRET and profile")
        elif siret is not None or user_id is not None:
            raise errors.InvalidInput("CDC staff belong to no establishment")
        chosen = user_id or new_user_id or str(uuid.uuid4())
        if new_user_id is not None:
            try:
                return Enabled(self.account(new_user_id), self._no_code(), created=False)
            except AccountNotFound:
                pass
        prov = provenance.as_dict()

        def work() -> Account:
            index = self._free_index(address)
            saved: list[Any] = []
            if role is Role.EMPLOYER:
                assert siret is not None
                establishment = self.access.establishment(siret)
                if user_id is not None:
                    if establishment.profile_of(user_id) is None:
                        raise errors.UserNotFound("no such user in this establishment")
                else:
                    assert profile is not None
                    establishment.grant_user(chosen, name, profile, prov)
                saved.append(establishment)
                value: str | None = establishment.siret
            else:
                value = None
            account = Account.create(chosen, role, name, address, value, prov)
            if index is None:
                saved.append(EmailIndex.create(address, account.id, prov))
            else:
                index.repoint(account.id, prov)
                saved.append(index)
            try:
                self.ledger.save(*saved, account)
            except IntegrityError:
                if self._free_index(address, raising=False) is False:
                    raise EmailAlreadyUsed("this e-mail address has an account already") from None
                if self._has_account(chosen):
                    raise AccountConflict("this user has an account already") from None
                raise  # a concurrent change of the establishment: try again
            return account

        account = retrying(work)
        self.store.put(account.id.hex, self.now(), status=PENDING)
        activation = self.issue_activation(account.user_id, provenance)
        return Enabled(self.account(account.user_id), activation)

    def _has_account(self, user_id: str) -> bool:
        try:
            self.account(user_id)
        except AccountNotFound:
            return False
        return True

    def _no_code(self) -> Activation:
        return Activation(self.now(), None, None)

    def _free_index(self, address: str, raising: bool = True) -> Any:
        """The e-mail's index when it may be (re)used (None: unused); EmailAlreadyUsed when an
        account that was not removed holds it (False instead with ``raising=False``)."""
        try:
            index = self.ledger.aggregate(
                email_index_id(address), EmailIndex, AccountNotFound("unused")
            )
        except AccountNotFound:
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
        try:
            self.account(user_id)
        except AccountNotFound:
            return
        self.deactivate(user_id, provenance, reason="removed")

    # ------------------------------------------------------------ activation

    def _pending(self, email: str, code: str) -> Account:
        account = self.account_by_email(email)
        unknown = InvalidActivation("this activation code is unknown, expired or already used")
        if account is None:
            raise unknown
        account.check_activable(self.now())
        stored = self.store.get(account.id.hex)
        if stored is None or stored.activation_digest is None:
            raise unknown
        if not same(stored.activation_digest, code_digest(code)):
            raise unknown
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
        stored = self.store.get(account.id.hex)
        assert stored is not None
        if stored.pending_totp is None:
            raise EnrolmentRequired("ask for the second factor to enrol first")
        self.passwords.check_policy(password)
        now = self.now()
        step = self.second_factor.matching_step(stored.pending_totp, totp_code, now, None)
        if step is None:
            raise InvalidSecondFactor("this code does not come from the second factor enrolled")
        if not self.store.take_activation(account.id.hex, code_digest(code), now):
            raise InvalidActivation("this activation code is unknown, expired or already used")
        recovery = new_recovery_codes()
        self.store.put(
            account.id.hex,
            now,
            status=ACTIVE,
            password_hash=self.passwords.hash(password),
            totp_secret=stored.pending_totp,
            totp_last_step=step,
            pending_totp=None,
            recovery_digests=[code_digest(c) for c in recovery],
        )
        provenance = self._person(account).as_dict()
        self._update(account.user_id, lambda a: a.activate(now, provenance))
        return recovery

    @staticmethod
    def _person(account: Account, channel: Channel = Channel.API) -> Provenance:
        """Provenance of what a person does themself: the person is the principal."""
        return Provenance(f"{account.role}:user:{account.user_id}", channel)

    # ----------------------------------------------------------------- logins

    def address_ref(self, address: str) -> str:
        """A client address as events name it: a keyed hash (the address is not kept)."""
        return hmac.new(
            self.ledger.id_key, f"address:{address}".encode(), hashlib.sha256
        ).hexdigest()[:32]

    def _address(self, ref: str) -> LoginAddress | None:
        try:
            return self.ledger.aggregate(
                login_address_id(ref), LoginAddress, AccountNotFound("unused")
            )
        except AccountNotFound:
            return None

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
        if place is not None and (until := place.locked_at(now)):
            raise TooManyAttempts(
                "too many failed logins from this address", retry=_seconds(until, now)
            )
        try:
            account = self.account_by_email(email)
        except AccountNotFound:
            account = None
        if account is not None and (until := account.locked_at(now)):
            raise TooManyAttempts(
                "too many failed logins on this account", retry=_seconds(until, now)
            )
        stored = self.store.get(account.id.hex) if account is not None else None
        password_ok = self.passwords.verify(stored.password_hash if stored else None, password)
        if account is None or stored is None:
            self._failed(None, ref, "unknown_email", now)
        elif not password_ok:
            self._failed(account, ref, "password", now)
        elif account.status != ACTIVE or stored.status != ACTIVE:
            self._failed(account, ref, "inactive", now)
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
        provenance = Provenance(
            f"{account.role}:user:{account.user_id}" if account else "anonymous", Channel.API
        ).as_dict()

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

        locked = retrying(work)
        if locked is not None:
            raise TooManyAttempts(
                "too many failed logins: try again later", retry=_seconds(locked, now)
            )
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
        stored = self.store.get(account.id.hex)
        assert stored is not None
        if stored.pending_totp is None:
            raise EnrolmentRequired("ask for the second factor to enrol first")
        now = self.now()
        step = self.second_factor.matching_step(stored.pending_totp, totp_code, now, None)
        if step is None:
            raise InvalidSecondFactor("this code does not come from the second factor enrolled")
        recovery = new_recovery_codes()
        self.store.put(
            account.id.hex,
            now,
            totp_secret=stored.pending_totp,
            totp_last_step=step,
            pending_totp=None,
            recovery_digests=[code_digest(c) for c in recovery],
        )
        self._changed(user_id, Account.SecondFactorRenewed)
        return recovery

    def _changed(self, user_id: str, kind: type[Account.Event]) -> None:
        self._update(user_id, lambda a: a.credentials_changed(kind, self._person(a).as_dict()))

    def forget_expired_sessions(self) -> None:
        now = self.now()
        self.store.end_expired_sessions(now - self.idle, now)


def _seconds(until: datetime, now: datetime) -> int:
    return max(1, int((until - now).total_seconds() + 0.999))
