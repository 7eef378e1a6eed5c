"""Where the scans of signed attestations are kept: by the SHA-256 of their content, beside the
views (the same PostgreSQL database as the events, or an SQLite file beside them), like the
credentials.

The request's events record each scan's digest, type and size (in the attestation, chained like
every event); the bytes live here. A scan read back is checked against its digest, so a scan
changed in this table is refused, never shown as the one that was sent.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from ledger.domain import errors
from ledger.domain.scans import ScanRef, scan_kind
from ledger.store.credentials import Transactional


class ScanAltered(errors.DomainError):
    code = "attestation_scan_altered"


class ScanStore:
    """Attestation scans by digest (the same scan sent twice is kept once)."""

    def __init__(self, store: Transactional) -> None:
        self.store = store
        with store.transaction() as cur:
            cur.execute(
                "CREATE TABLE IF NOT EXISTS attestation_scans (sha256 TEXT PRIMARY KEY, "
                "media_type TEXT NOT NULL, size BIGINT NOT NULL, content BYTEA NOT NULL, "
                "stored_at TEXT NOT NULL)"
            )

    def keep(self, content: bytes) -> ScanRef:
        """Check the scan (kind, size, whole) and keep it; what the request records of it."""
        kind = scan_kind(content)
        digest = hashlib.sha256(content).hexdigest()
        with self.store.transaction() as cur:
            cur.execute(
                "INSERT INTO attestation_scans VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT (sha256) DO NOTHING",
                (digest, kind.media_type, len(content), content, datetime.now(UTC).isoformat()),
            )
        return ScanRef(digest, kind.media_type, len(content))

    def read(self, ref: ScanRef) -> bytes:
        """The scan a request recorded; ScanAltered when the bytes kept are not those."""
        with self.store.transaction(write=False) as cur:
            row = cur.execute(
                "SELECT content FROM attestation_scans WHERE sha256 = %s", (ref.sha256,)
            ).fetchone()
        if row is None:
            raise ScanAltered("the attestation's scan is missing from the store")
        content = bytes(row[0])
        if hashlib.sha256(content).hexdigest() != ref.sha256 or len(content) != ref.size:
            raise ScanAltered("the attestation's scan was changed after it was sent")
        return content
