"""People with accounts, for tests: enabled, activated, and a clock the tests move."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp

from ledger.accounts_service import AccountService
from ledger.domain.access import Profile, Role
from ledger.domain.provenance import Channel, Provenance
from ledger.store.settings import Settings

SETUP = Provenance("test-setup", Channel.CLI)
PASSWORD = "une longue phrase de passe pour les tests"
CHEAP_HASHING: dict[str, Any] = {
    "argon2_memory_kib": 1024,
    "argon2_time_cost": 1,
    "argon2_parallelism": 1,
}


def cheap(settings: Settings, **changes: Any) -> Settings:
    """The settings with a fast Argon2id (tests hash many passwords)."""
    return settings.model_copy(update={**CHEAP_HASHING, **changes})


@dataclass
class Clock:
    """A clock the tests move; TOTP codes are computed at its time."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Person:
    user_id: str
    email: str
    password: str
    secret: str
    recovery_codes: list[str]

    def code(self, at: datetime, steps_later: int = 0) -> str:
        """The TOTP code of ``at`` (or of a later step: one the account has not used)."""
        return pyotp.TOTP(self.secret).at(at + timedelta(seconds=30 * steps_later))


def activated(
    accounts: AccountService,
    email: str,
    role: Role = Role.OPERATOR,
    siret: str | None = None,
    profile: Profile | None = None,
    user_id: str | None = None,
    name: str = "Camille Test",
) -> Person:
    """A person enabled and activated (the activation uses the current TOTP step: a login
    needs the next one)."""
    enabled = accounts.create(
        role, name, email, SETUP, siret=siret, profile=profile, user_id=user_id
    )
    code = enabled.activation.code
    assert code is not None
    secret = accounts.start_activation(email, code).secret
    now = accounts.now()
    recovery = accounts.activate(email, code, PASSWORD, pyotp.TOTP(secret).at(now))
    return Person(enabled.account.user_id, email, PASSWORD, secret, recovery)
