"""Where credentials and sessions are kept: hashed, server-side, outside the event log.

The events say what happened to an account; the proofs themselves change (a password is
changed, a code is used up, a session expires) and must never be in an immutable log, so they
live in two tables beside the views:

- ``account_credentials``: per account, its status as the events last left it (a fail-closed
  copy checked on every request), the Argon2id hash of the password, the TOTP secret (sealed
  with AES-256-GCM under ``LEDGER_IDENTITY_KEYS`` when they are set) and the last time step used,
  SHA-256 digests of the pending activation code and of the recovery codes;
- ``sessions``: SHA-256 of each session id (the cookie), its CSRF token, its times.

The tables are created on the store the composition root gives (the views' database: the same
PostgreSQL database as the events, or an SQLite file beside them).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.domain.errors import InvalidInput

SEALED = "sealed:"
AAD = b"cpf-ledger second factor v1"
SECRET_COLUMNS = ("totp_secret", "pending_totp")


class SecretSealer:
    """Seals the second factors' secrets at rest with the identity keys (AES-256-GCM): the
    first key seals, the others open older values; without keys, values are kept as they are."""

    def __init__(self, keys: dict[str, bytes]) -> None:
        self.keys = keys
        self.current = next(iter(keys), None)

    def seal(self, value: str) -> str:
        if self.current is None:
            return value
        nonce = os.urandom(12)
        sealed = AESGCM(self.keys[self.current]).encrypt(nonce, value.encode(), AAD)
        parts = (self.current, base64.b64encode(nonce).decode(), base64.b64encode(sealed).decode())
        return SEALED + ":".join(parts)

    def open(self, stored: str) -> str:
        if not stored.startswith(SEALED):
            return stored
        key_id, nonce, sealed = stored.removeprefix(SEALED).split(":")
        key = self.keys.get(key_id)
        if key is None:
            raise InvalidInput(f"identity key {key_id!r} is not configured")
        return AESGCM(key).decrypt(base64.b64decode(nonce), base64.b64decode(sealed), AAD).decode()


class Cursor(Protocol):
    def execute(self, statement: str, params: Sequence[Any] = ()) -> Any: ...

    def fetchone(self) -> tuple[Any, ...] | None: ...

    def fetchall(self) -> list[tuple[Any, ...]]: ...


class Transactional(Protocol):
    """A database with ``%s`` placeholders, one transaction per ``with`` block."""

    def transaction(self, write: bool = True) -> AbstractContextManager[Cursor]: ...


@dataclass(frozen=True)
class Credentials:
    account_id: str
    status: str
    password_hash: str | None
    totp_secret: str | None
    totp_last_step: int | None
    pending_totp: str | None
    activation_digest: str | None
    recovery_digests: tuple[str, ...]


@dataclass(frozen=True)
class SessionRow:
    session_ref: str
    account_id: str
    user_id: str
    role: str
    name: str
    siret: str | None
    csrf_token: str
    created_at: datetime
    last_seen: datetime
    absolute_expiry: datetime
    status: str  # the account's, as the credential store has it


def _iso(moment: datetime) -> str:
    return moment.isoformat()


class CredentialStore:
    """Credentials and sessions, by account id (hex) and session id digest."""

    CREDENTIAL_COLUMNS = (
        "account_id",
        "status",
        "password_hash",
        "totp_secret",
        "totp_last_step",
        "pending_totp",
        "activation_digest",
        "recovery_digests",
    )

    def __init__(self, store: Transactional, sealer: SecretSealer | None = None) -> None:
        self.store = store
        self.sealer = sealer or SecretSealer({})
        with store.transaction() as cur:
            cur.execute(
                "CREATE TABLE IF NOT EXISTS account_credentials (account_id TEXT PRIMARY KEY, "
                "status TEXT NOT NULL, password_hash TEXT, totp_secret TEXT, "
                "totp_last_step BIGINT, pending_totp TEXT, activation_digest TEXT, "
                "recovery_digests TEXT NOT NULL DEFAULT '[]', updated_at TEXT NOT NULL)"
            )
            cur.execute(
                "CREATE TABLE IF NOT EXISTS sessions (id_digest TEXT PRIMARY KEY, "
                "session_ref TEXT NOT NULL UNIQUE, account_id TEXT NOT NULL, "
                "user_id TEXT NOT NULL, role TEXT NOT NULL, name TEXT NOT NULL, siret TEXT, "
                "csrf_token TEXT NOT NULL, created_at TEXT NOT NULL, "
                "last_seen TEXT NOT NULL, absolute_expiry TEXT NOT NULL)"
            )
            cur.execute("CREATE INDEX IF NOT EXISTS sessions_account ON sessions (account_id)")

    # ------------------------------------------------------------ credentials

    def get(self, account_id: str) -> Credentials | None:
        with self.store.transaction(write=False) as cur:
            row = cur.execute(
                f"SELECT {', '.join(self.CREDENTIAL_COLUMNS)} FROM account_credentials "
                "WHERE account_id = %s",
                (account_id,),
            ).fetchone()
        if row is None:
            return None
        values = dict(zip(self.CREDENTIAL_COLUMNS, row, strict=True))
        values["recovery_digests"] = tuple(orjson.loads(values["recovery_digests"] or "[]"))
        values["totp_last_step"] = (
            None if values["totp_last_step"] is None else int(values["totp_last_step"])
        )
        for name in SECRET_COLUMNS:
            if values[name] is not None:
                values[name] = self.sealer.open(values[name])
        return Credentials(**values)

    def put(self, account_id: str, now: datetime, **changes: Any) -> None:
        """Create the account's row or change some of its columns."""
        for name in SECRET_COLUMNS:
            if changes.get(name) is not None:
                changes[name] = self.sealer.seal(changes[name])
        if "recovery_digests" in changes:
            changes["recovery_digests"] = orjson.dumps(list(changes["recovery_digests"])).decode()
        names = list(changes)
        with self.store.transaction() as cur:
            exists = cur.execute(
                "SELECT 1 FROM account_credentials WHERE account_id = %s", (account_id,)
            ).fetchone()
            if exists:
                sets = ", ".join(f"{name} = %s" for name in names)
                cur.execute(
                    f"UPDATE account_credentials SET {sets}, updated_at = %s WHERE account_id = %s",
                    (*changes.values(), _iso(now), account_id),
                )
            else:
                columns = ", ".join(["account_id", *names, "updated_at"])
                marks = ", ".join(["%s"] * (len(names) + 2))
                cur.execute(
                    f"INSERT INTO account_credentials ({columns}) VALUES ({marks})",
                    (account_id, *changes.values(), _iso(now)),
                )

    def take_activation(self, account_id: str, digest: str, now: datetime) -> bool:
        """Use up the activation code with this digest (once: a second use finds nothing)."""
        with self.store.transaction() as cur:
            row = cur.execute(
                "UPDATE account_credentials SET activation_digest = NULL, updated_at = %s "
                "WHERE account_id = %s AND activation_digest = %s RETURNING account_id",
                (_iso(now), account_id, digest),
            ).fetchone()
        return row is not None

    def use_totp_step(self, account_id: str, step: int, now: datetime) -> bool:
        """Record ``step`` as the last one used, unless that step (or a later one) was used
        already: a code is accepted once, even by two requests at the same moment."""
        with self.store.transaction() as cur:
            row = cur.execute(
                "UPDATE account_credentials SET totp_last_step = %s, updated_at = %s "
                "WHERE account_id = %s AND (totp_last_step IS NULL OR totp_last_step < %s) "
                "RETURNING account_id",
                (step, _iso(now), account_id, step),
            ).fetchone()
        return row is not None

    def use_recovery_code(self, account_id: str, digest: str, now: datetime) -> int | None:
        """Use up one recovery code; the number left, or None when it is not one of them."""
        with self.store.transaction() as cur:
            row = cur.execute(
                "SELECT recovery_digests FROM account_credentials WHERE account_id = %s",
                (account_id,),
            ).fetchone()
            digests = list(orjson.loads(row[0])) if row else []
            if digest not in digests:
                return None
            digests.remove(digest)
            left = orjson.dumps(digests).decode()
            updated = cur.execute(
                "UPDATE account_credentials SET recovery_digests = %s, updated_at = %s "
                "WHERE account_id = %s AND recovery_digests = %s RETURNING account_id",
                (left, _iso(now), account_id, row[0] if row else ""),
            ).fetchone()
        return len(digests) if updated else None

    # --------------------------------------------------------------- sessions

    def open_session(
        self,
        id_digest: str,
        session_ref: str,
        account_id: str,
        person: tuple[str, str, str, str | None],
        csrf_token: str,
        now: datetime,
        absolute_expiry: datetime,
        replacing: str | None = None,
    ) -> None:
        """Keep a new session of ``person`` (user id, role, name, SIRET); the one it replaces
        (rotation at login) ends in the same transaction."""
        with self.store.transaction() as cur:
            if replacing is not None:
                cur.execute("DELETE FROM sessions WHERE id_digest = %s", (replacing,))
            cur.execute(
                "INSERT INTO sessions (id_digest, session_ref, account_id, user_id, role, name, "
                "siret, csrf_token, created_at, last_seen, absolute_expiry) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    id_digest,
                    session_ref,
                    account_id,
                    *person,
                    csrf_token,
                    _iso(now),
                    _iso(now),
                    _iso(absolute_expiry),
                ),
            )

    def session(self, id_digest: str) -> SessionRow | None:
        """The session with this id digest and its account's status, or None."""
        with self.store.transaction(write=False) as cur:
            row = cur.execute(
                "SELECT s.session_ref, s.account_id, s.user_id, s.role, s.name, s.siret, "
                "s.csrf_token, s.created_at, "
                "s.last_seen, s.absolute_expiry, COALESCE(c.status, 'unknown') FROM sessions s "
                "LEFT JOIN account_credentials c ON c.account_id = s.account_id "
                "WHERE s.id_digest = %s",
                (id_digest,),
            ).fetchone()
        if row is None:
            return None
        return SessionRow(
            session_ref=row[0],
            account_id=row[1],
            user_id=row[2],
            role=row[3],
            name=row[4],
            siret=row[5],
            csrf_token=row[6],
            created_at=datetime.fromisoformat(row[7]),
            last_seen=datetime.fromisoformat(row[8]),
            absolute_expiry=datetime.fromisoformat(row[9]),
            status=row[10],
        )

    def touch(self, id_digest: str, now: datetime) -> None:
        with self.store.transaction() as cur:
            cur.execute(
                "UPDATE sessions SET last_seen = %s WHERE id_digest = %s", (_iso(now), id_digest)
            )

    def end_session(self, id_digest: str) -> None:
        with self.store.transaction() as cur:
            cur.execute("DELETE FROM sessions WHERE id_digest = %s", (id_digest,))

    def end_sessions_of(self, account_id: str, keep: str | None = None) -> None:
        """End every session of an account (but ``keep``, a session id digest)."""
        with self.store.transaction() as cur:
            cur.execute(
                "DELETE FROM sessions WHERE account_id = %s AND id_digest <> %s",
                (account_id, keep or ""),
            )

    def end_expired_sessions(self, idle_before: datetime, now: datetime) -> None:
        """Forget sessions past their idle or absolute expiry."""
        with self.store.transaction() as cur:
            cur.execute(
                "DELETE FROM sessions WHERE last_seen < %s OR absolute_expiry < %s",
                (_iso(idle_before), _iso(now)),
            )
