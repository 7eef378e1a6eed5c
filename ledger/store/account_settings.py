"""Settings of people's accounts: password hashing, activation, sessions, login back-off and
e-mail. Mixed into :class:`ledger.store.settings.Settings` (so every one is a ``LEDGER_*``
environment variable like the others), kept apart so the accounts' knobs read as one block."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings


class AccountSettings(BaseSettings):
    """Accounts of people (``LEDGER_*``); documented in the README's settings table."""

    password_min_length: int = Field(default=12, ge=8, le=64)
    argon2_time_cost: int = Field(default=3, ge=1, description="Argon2id passes")
    argon2_memory_kib: int = Field(default=65536, ge=8, description="Argon2id memory, KiB")
    argon2_parallelism: int = Field(default=4, ge=1, description="Argon2id lanes")
    activation_hours: int = Field(
        default=72, ge=1, le=24 * 30, description="How long an activation code stays valid"
    )
    totp_issuer: str = Field(default="CPF Ledger", description="Name shown by authenticator apps")
    session_idle_minutes: int = Field(default=30, ge=1, description="Idle expiry of a session")
    session_absolute_hours: int = Field(
        default=12, ge=1, description="Absolute expiry of a session, however active"
    )
    session_cookie_secure: bool = Field(
        default=True,
        description="Send the session cookie over HTTPS only; off only for http://127.0.0.1 "
        "in development (production refuses to start with it off)",
    )
    login_max_failures: int = Field(
        default=5, ge=1, description="Failed logins on an account before it is locked"
    )
    login_address_max_failures: int = Field(
        default=50, ge=1, description="Failed logins from one address before it is locked"
    )
    login_lockout_seconds: int = Field(
        default=300, ge=1, description="First lockout; each further one in a row doubles it"
    )
    login_failure_window_seconds: int = Field(
        default=3600, ge=1, description="Failures older than this are forgotten"
    )
    smtp_host: str | None = Field(
        default=None, description="SMTP server sending activation codes; unset: codes are shown"
    )
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_starttls: bool = Field(default=True, description="Upgrade the SMTP connection with TLS")
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_sender: str = Field(default="cpf-ledger@localhost", description="From: of the e-mails")
    public_url: str = Field(
        default="http://127.0.0.1:8000", description="Where people reach the service (e-mails)"
    )

    @model_validator(mode="after")
    def _secure_cookie_in_production(self) -> AccountSettings:
        environment = getattr(self, "environment", "development")
        if environment == "production" and not self.session_cookie_secure:
            raise ValueError("LEDGER_SESSION_COOKIE_SECURE may be off in development only")
        return self
