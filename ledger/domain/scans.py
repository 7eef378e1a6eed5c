"""The scan of a signed attestation, attached to a regularisation request: a PDF, a PNG or a JPEG,
told apart by its content (never by its name or the type a browser claims), whole, and small
enough to keep beside the request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger.domain import errors

MAX_SCAN_BYTES = 5 * 1024 * 1024
TAIL = 1024
"""How far from the end a file's closing mark may be (writers append a little after it)."""


class InvalidScan(errors.InvalidInput):
    code = "invalid_attestation_scan"


@dataclass(frozen=True, slots=True)
class ScanKind:
    media_type: str
    extension: str
    starts: bytes
    ends: bytes


KINDS = (
    ScanKind("application/pdf", "pdf", b"%PDF-", b"%%EOF"),
    ScanKind("image/png", "png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"IEND\xaeB`\x82"),
    ScanKind("image/jpeg", "jpg", b"\xff\xd8\xff", b"\xff\xd9"),
)


def scan_kind(content: bytes) -> ScanKind:
    """What the scan is, from its first and last bytes; InvalidScan when it is empty, too large,
    of another kind, or cut short (its closing mark missing)."""
    if not content:
        raise InvalidScan("the attestation's scan is empty")
    if len(content) > MAX_SCAN_BYTES:
        raise InvalidScan(f"the attestation's scan is over {MAX_SCAN_BYTES // (1024 * 1024)} MiB")
    for kind in KINDS:
        if content.startswith(kind.starts):
            if kind.ends not in content[-TAIL:]:
                raise InvalidScan("the attestation's scan is incomplete (its end is missing)")
            return kind
    raise InvalidScan("the attestation's scan must be a PDF, PNG or JPEG file")


@dataclass(frozen=True, slots=True)
class ScanRef:
    """What a request's attestation records of its scan: enough to find it and to prove it is
    the one that was sent."""

    sha256: str
    media_type: str
    size: int

    def as_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "media_type": self.media_type, "size": self.size}

    @classmethod
    def from_attestation(cls, attestation: dict[str, Any]) -> ScanRef | None:
        found = attestation.get("scan")
        if not isinstance(found, dict):
            return None
        return cls(str(found["sha256"]), str(found["media_type"]), int(found["size"]))
