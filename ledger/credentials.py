"""What proves a person is who they say: passwords, one-time codes, the second factor.

Nothing here is written by hand: Argon2id from argon2-cffi (parameters from the settings), the
common-password list Django ships and keeps up to date (its ``CommonPasswordValidator`` list,
about 20,000 passwords from breaches), TOTP (RFC 6238) from pyotp, QR codes from segno, random
values from :mod:`secrets`. One-time codes and recovery codes are random and long enough that a
SHA-256 of them is what is kept (like the API keys); passwords, chosen by people, get Argon2id.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import argon2
import pyotp
import segno

from ledger.domain.accounts import WeakPassword
from ledger.store.settings import Settings

MAX_PASSWORD_LENGTH = 256
"""Long passphrases are welcome; beyond this a password is an attempt to make hashing slow."""
RECOVERY_CODES = 10
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: codes are typed by people


def random_code(groups: int) -> str:
    """A code people can type: groups of four characters (5 bits each) joined by dashes."""
    return "-".join("".join(secrets.choice(CODE_ALPHABET) for _ in range(4)) for _ in range(groups))


def code_digest(code: str) -> str:
    """What is kept of a one-time or recovery code: SHA-256 of its canonical form."""
    canonical = "".join(c for c in code.upper() if c.isalnum())
    return hashlib.sha256(canonical.encode()).hexdigest()


def new_activation_code() -> str:
    """100 random bits: a one-time activation code."""
    return random_code(5)


def new_recovery_codes() -> list[str]:
    """Ten codes of 80 random bits, each usable once instead of the second factor."""
    return [random_code(4) for _ in range(RECOVERY_CODES)]


def new_token() -> str:
    """An opaque random id (a session's, a CSRF token): 256 bits."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two secrets."""
    return hmac.compare_digest(a.encode(), b.encode())


def _is_text(value: str) -> bool:
    """Printable characters that encode (a lone surrogate from JSON does not)."""
    return value.isprintable()


@functools.cache
def common_passwords() -> frozenset[str]:
    """The common-password list Django ships (read once)."""
    from django.contrib.auth.password_validation import CommonPasswordValidator

    return frozenset(CommonPasswordValidator().passwords)


class Passwords:
    """Argon2id hashing and the password policy: a minimum length, and not a common password."""

    def __init__(self, settings: Settings) -> None:
        self.min_length = settings.password_min_length
        self.hasher = argon2.PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
            type=argon2.Type.ID,
        )
        self._dummy = self.hasher.hash(secrets.token_urlsafe(16))

    def check_policy(self, password: str) -> None:
        """WeakPassword unless the password is long enough and not a common one."""
        if len(password) < self.min_length:
            raise WeakPassword(f"a password has at least {self.min_length} characters")
        if len(password) > MAX_PASSWORD_LENGTH:
            raise WeakPassword(f"a password has at most {MAX_PASSWORD_LENGTH} characters")
        if not _is_text(password):
            raise WeakPassword("a password is text: no control character")
        if password.lower().strip() in common_passwords():
            raise WeakPassword("this password is too common: it appears in breached lists")

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        """Whether ``password`` matches ``stored``; without a stored hash, as long to say no."""
        if len(password) > MAX_PASSWORD_LENGTH or not _is_text(password):
            return False
        try:
            return self.hasher.verify(stored or self._dummy, password) and stored is not None
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        """The settings' parameters changed since this hash was made."""
        return self.hasher.check_needs_rehash(stored)


@dataclass(frozen=True)
class Enrolment:
    """A second factor to enrol: the secret, its ``otpauth://`` URI and the URI as a QR code
    (SVG). Shown once to the person enrolling."""

    secret: str
    uri: str
    qr_svg: str


class SecondFactor:
    """Time-based one-time passwords (RFC 6238: 6 digits, 30 s steps), one step of clock drift
    either way, and never the same step twice."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer

    def enrolment(self, account_name: str, secret: str | None = None) -> Enrolment:
        secret = secret or pyotp.random_base32(32)
        uri = pyotp.TOTP(secret).provisioning_uri(name=account_name, issuer_name=self.issuer)
        svg = segno.make(uri, error="m").svg_inline(scale=4)
        return Enrolment(secret, uri, svg)

    def matching_step(
        self, secret: str, code: str, now: datetime, after_step: int | None
    ) -> int | None:
        """The time step ``code`` is valid for at ``now`` (±1 step), if later than
        ``after_step`` (the last one used: a code is never accepted twice); else None."""
        code = code.strip().replace(" ", "")
        if len(code) != 6 or not code.isdigit():
            return None
        totp = pyotp.TOTP(secret)
        current = totp.timecode(now)
        for step in (current - 1, current, current + 1):
            if after_step is not None and step <= after_step:
                continue
            if same(totp.generate_otp(step), code):
                return step
        return None
