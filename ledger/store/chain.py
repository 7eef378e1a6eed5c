"""The tamper-evident chain over the event log.

Every stored event gets ``chain = SHA-256(previous chain || position || digest)``, where
``digest`` is a canonical SHA-256 of the stored record (agent id, version, topic, stored bytes;
the recorded time is inside the stored bytes). The position is in the chain, not the digest, so
an event moved to another position is recognised as moved. Any change to a stored event, a
deletion, an insertion or a reordering changes the chain from that position on.
"""

from __future__ import annotations

import hashlib
from uuid import UUID

GENESIS = bytes(32)


def record_digest(originator_id: UUID | str, version: int, topic: str, state: bytes) -> bytes:
    """Canonical digest of one stored event (its position goes into the chain)."""
    agent = originator_id.hex if isinstance(originator_id, UUID) else UUID(str(originator_id)).hex
    header = f"{agent}|{version}|{topic}|".encode()
    return hashlib.sha256(header + hashlib.sha256(state).digest()).digest()


def next_chain(previous: bytes, position: int, digest: bytes) -> bytes:
    """The chain hash after the record with ``digest`` at ``position``."""
    return hashlib.sha256(previous + position.to_bytes(8, "big") + digest).digest()
