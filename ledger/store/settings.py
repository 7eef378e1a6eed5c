"""Settings from the environment (pydantic-settings). Each one is documented in the README."""

from __future__ import annotations

import base64
import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from ledger.store.account_settings import AccountSettings


class MissingSecret(RuntimeError):
    """Production refuses to start without its keys."""


class Settings(AccountSettings):
    """Configuration of a CPF Ledger process, read from ``LEDGER_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="LEDGER_", env_file=".env", extra="ignore")

    environment: Literal["development", "production"] = "development"
    database_url: str | None = Field(
        default=None,
        description="postgresql://user:password@host:port/dbname; unset: SQLite files under data_dir",
    )
    data_dir: Path = Path("var")
    id_key: SecretStr | None = Field(
        default=None,
        description="Secret of the keyed hash (HMAC) that turns a NIR into an agent id",
    )
    audit_signing_key: SecretStr | None = Field(
        default=None, description="Ed25519 private key (64 hex digits) that signs checkpoints"
    )
    audit_trusted_key: str | None = Field(
        default=None,
        description="The Ed25519 public key (base64) checkpoints must be signed with; default: "
        "the public half of the signing key",
    )
    create_tables: bool = Field(
        default=True,
        description="Create the event tables at start-up; off when the service runs as the "
        "application role and an owner set the database up (`cpf-ledger db setup`)",
    )
    identity_keys: SecretStr | None = Field(
        default=None,
        description="AES-256 keys sealing identities at rest: id:64-hex-digits[,older...]",
    )
    db_connect_timeout: int = Field(default=5, ge=1, description="Seconds to wait for a connection")
    db_pool_size: int = Field(default=5, ge=1)
    db_max_overflow: int = Field(default=5, ge=0)
    db_max_waiting: int = Field(
        default=40, ge=0, description="Requests queued for a connection (uvicorn runs 40 threads)"
    )
    projector_in_process: bool | None = Field(
        default=None,
        description="Run the projector inside the API process (default: yes on SQLite, no on PostgreSQL)",
    )
    ready_max_lag_seconds: float = Field(
        default=60.0,
        gt=0,
        description="/readyz answers not ready when a view has not applied an event this old",
    )
    metrics_public: bool = Field(
        default=False,
        description="Serve /metrics without a key (only where its port is not reachable from "
        "outside); by default it needs an operator key",
    )
    bulk_chunk_size: int = Field(
        default=2000,
        ge=1,
        le=20_000,
        description="Commands applied and recorded per transaction on the bulk path",
    )

    key_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="How long a process keeps an API key's principal: a revocation made through "
        "another process takes effect there within this delay (0: resolve on every request)",
    )
    trail_batch_max: int = Field(
        default=500,
        ge=1,
        description="Read-trail rows committed together at most (each response waits for its own)",
    )
    group_commit: bool = Field(
        default=True,
        description="Concurrent commands of a process share one transaction (PostgreSQL)",
    )

    @cached_property
    def agent_id_key(self) -> bytes:
        """The HMAC key: from settings, or in development a key generated once into data_dir."""
        if self.id_key is not None:
            value = self.id_key.get_secret_value()
            if len(value) < 32:
                raise MissingSecret("LEDGER_ID_KEY must be at least 32 characters")
            return value.encode()
        if self.environment == "production":
            raise MissingSecret("LEDGER_ID_KEY is required in production")
        path = self.data_dir / "id_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        return path.read_text().strip().encode()

    @cached_property
    def checkpoint_signing_seed(self) -> str:
        """The checkpoint signing key: from settings, or in development one generated once."""
        if self.audit_signing_key is not None:
            value = self.audit_signing_key.get_secret_value().strip()
            if len(value) != 64:
                raise MissingSecret("LEDGER_AUDIT_SIGNING_KEY must be 64 hex digits")
            return value
        if self.environment == "production":
            raise MissingSecret("LEDGER_AUDIT_SIGNING_KEY is required in production")
        path = self.data_dir / "audit_signing_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        return path.read_text().strip()

    @property
    def trusted_checkpoint_key(self) -> str | None:
        """The public key a checkpoint must carry to be trusted (None when none is known)."""
        if self.audit_trusted_key:
            return self.audit_trusted_key.strip()
        try:
            seed = self.checkpoint_signing_seed
        except MissingSecret:
            return None
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        public = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed)).public_key()
        return base64.b64encode(public.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()

    @property
    def uses_postgres(self) -> bool:
        return bool(self.database_url)

    @property
    def runs_projector_in_process(self) -> bool:
        if self.projector_in_process is None:
            return not self.uses_postgres
        return self.projector_in_process
