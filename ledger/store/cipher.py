"""Personal data at rest: the identity in an agent's registration event, sealed with AES-GCM.

Keys come from ``LEDGER_IDENTITY_KEYS`` as ``id:64-hex-digits`` pairs separated by commas; the
first is the current key (new registrations), the others only open older events. Without keys,
identities are stored in clear (development).
"""

from __future__ import annotations

import base64
import os
from datetime import date
from typing import Any

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.domain.errors import InvalidInput

AAD = b"cpf-ledger identity v1"


class IdentityCipher:
    """Seals and opens identity records."""

    def __init__(self, keys: dict[str, bytes]) -> None:
        self.keys = keys
        self.current = next(iter(keys), None)

    @classmethod
    def parse(cls, text: str | None) -> IdentityCipher:
        keys: dict[str, bytes] = {}
        for item in (text or "").split(","):
            if not item.strip():
                continue
            key_id, _, hex_key = item.strip().partition(":")
            if not key_id or len(hex_key) != 64:
                raise InvalidInput("LEDGER_IDENTITY_KEYS: expected id:64-hex-digits, ...")
            keys[key_id] = bytes.fromhex(hex_key)
        return cls(keys)

    def seal(self, identity: dict[str, Any]) -> dict[str, Any]:
        """The record to store: sealed under the current key, or as is without keys."""
        if self.current is None:
            return identity
        plain = orjson.dumps({**identity, "birth_date": identity["birth_date"].isoformat()})
        nonce = os.urandom(12)
        sealed = AESGCM(self.keys[self.current]).encrypt(nonce, plain, AAD)
        return {
            "key_id": self.current,
            "nonce": base64.b64encode(nonce).decode(),
            "sealed": base64.b64encode(sealed).decode(),
        }

    def open(self, stored: dict[str, Any]) -> dict[str, Any]:
        """The identity from a stored record (sealed or not)."""
        if "sealed" not in stored:
            return stored
        key = self.keys.get(stored["key_id"])
        if key is None:
            raise InvalidInput(f"identity key {stored['key_id']!r} is not configured")
        plain = AESGCM(key).decrypt(
            base64.b64decode(stored["nonce"]), base64.b64decode(stored["sealed"]), AAD
        )
        identity: dict[str, Any] = orjson.loads(plain)
        identity["birth_date"] = date.fromisoformat(identity["birth_date"])
        return identity
