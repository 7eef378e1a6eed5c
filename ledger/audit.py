"""Proving the log is complete and unaltered: chain verification and signed checkpoints."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.application import AGENT_TOPIC
from ledger.store.chain import GENESIS, next_chain, record_digest
from ledger.store.events import (
    broken_versions,
    chain_position_of,
    events_outside_chain,
    insert_chain_rows,
    last_chain_row,
    select_chain,
    select_positioned_events_of,
)

PAGE = 5000


@dataclass(frozen=True)
class Break:
    """The first place the log and its chain disagree."""

    position: int
    problem: str  # altered, deleted, inserted, reordered, chain_altered, outside_chain,
    # versions_broken
    detail: str


@dataclass(frozen=True)
class Verification:
    checked: int
    head_position: int
    head_chain: str
    first_break: Break | None

    @property
    def ok(self) -> bool:
        return self.first_break is None


def verify_chain(
    recorder: Any,
    after: int = 0,
    chain: bytes = GENESIS,
    progress: Callable[[int], None] | None = None,
) -> Verification:
    """Recompute the chain from ``after`` (a position whose chain hash is ``chain``) to the end.

    Walks the events and the chain rows side by side, in position order, and stops at the first
    disagreement: an event whose digest changed (altered) or matches another position's
    (reordered), a chain row without its event (deleted), an event without a chain row
    (inserted), or a chain hash that does not follow (chain_altered).
    """
    checked, position, previous = 0, after, chain
    events: list[Any] = []
    rows: list[tuple[int, bytes, bytes]] = []
    event_cursor = chain_cursor = after
    while True:
        if not events:
            events = list(
                recorder.select_notifications(event_cursor, PAGE, inclusive_of_start=False)
            )
            if events:
                event_cursor = events[-1].id
        if not rows:
            rows = select_chain(recorder, chain_cursor, PAGE)
            if rows:
                chain_cursor = rows[-1][0]
        if not events and not rows:
            whole = after == 0 and _every_row_accounted_for(recorder)
            return Verification(checked, position, previous.hex(), whole or None)
        event = events[0] if events else None
        row = rows[0] if rows else None
        if row is not None and (event is None or row[0] < event.id):
            return Verification(
                checked,
                position,
                previous.hex(),
                Break(row[0], "deleted", "the chain records an event that is no longer in the log"),
            )
        assert event is not None
        if row is None or event.id < row[0]:
            return Verification(
                checked,
                position,
                previous.hex(),
                Break(event.id, "inserted", "an event is in the log without a chain entry"),
            )
        digest = record_digest(
            event.originator_id, event.originator_version, event.topic, event.state
        )
        if digest != row[1]:
            elsewhere = chain_position_of(recorder, digest)
            if elsewhere is not None and elsewhere != event.id:
                return Verification(
                    checked,
                    position,
                    previous.hex(),
                    Break(
                        event.id, "reordered", f"this event was recorded at position {elsewhere}"
                    ),
                )
            return Verification(
                checked,
                position,
                previous.hex(),
                Break(event.id, "altered", "the stored event differs from what was chained"),
            )
        expected = next_chain(previous, event.id, digest)
        if expected != row[2]:
            return Verification(
                checked,
                position,
                previous.hex(),
                Break(
                    event.id,
                    "chain_altered",
                    "the chain hash does not follow from the previous one",
                ),
            )
        previous, position = expected, event.id
        checked += 1
        events.pop(0)
        rows.pop(0)
        if progress and checked % PAGE == 0:
            progress(position)


def _every_row_accounted_for(recorder: Any) -> Break | None:
    """Beyond the walk along the positions: no stored event outside the chain, whatever its
    position, and each agent's versions 1, 2, … without a gap."""
    outside = events_outside_chain(recorder)
    if outside:
        return Break(
            outside[0],
            "outside_chain",
            f"{len(outside)} stored event(s) the chain does not cover (first shown)",
        )
    broken = broken_versions(recorder)
    if broken:
        return Break(0, "versions_broken", f"versions of {len(broken)} aggregate(s) do not follow")
    return None


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement: at ``position`` the log's chain hash was ``chain``."""

    position: int
    chain: str
    created_at: str
    public_key: str
    signature: str = ""

    def payload(self) -> bytes:
        return orjson.dumps(
            {
                "position": self.position,
                "chain": self.chain,
                "created_at": self.created_at,
                "public_key": self.public_key,
            },
            option=orjson.OPT_SORT_KEYS,
        )

    def export(self) -> bytes:
        return orjson.dumps(asdict(self), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)

    @classmethod
    def load(cls, data: bytes) -> Checkpoint:
        return cls(**orjson.loads(data))


def private_key(seed_hex: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed_hex))


def public_key_text(key: Ed25519PrivateKey) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return base64.b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def make_checkpoint(recorder: Any, key: Ed25519PrivateKey) -> Checkpoint:
    """Sign the current chain head (after verifying the whole chain up to it)."""
    verification = verify_chain(recorder)
    if not verification.ok:
        raise ValueError(f"the chain is broken at {verification.first_break}: not signing it")
    unsigned = Checkpoint(
        verification.head_position,
        verification.head_chain,
        datetime.now(UTC).isoformat(),
        public_key_text(key),
    )
    signature = base64.b64encode(key.sign(unsigned.payload())).decode()
    return Checkpoint(**{**asdict(unsigned), "signature": signature})


def check_checkpoint(recorder: Any, checkpoint: Checkpoint, trusted_key: str | None) -> str | None:
    """None when the log still extends ``checkpoint``; otherwise what is wrong."""
    if trusted_key is not None and checkpoint.public_key != trusted_key:
        return "signed by another key than the trusted one"
    try:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(checkpoint.public_key))
        public.verify(base64.b64decode(checkpoint.signature), checkpoint.payload())
    except (InvalidSignature, ValueError):
        return "the signature is not valid"
    rows = select_chain(recorder, checkpoint.position - 1, 1)
    if not rows or rows[0][0] != checkpoint.position:
        return f"position {checkpoint.position} is no longer in the chain"
    if rows[0][2].hex() != checkpoint.chain:
        return f"the chain at position {checkpoint.position} differs from the checkpoint"
    return None


def chain_existing(recorder: Any, progress: Callable[[int], None] | None = None) -> int:
    """Migration: chain the events recorded before the chain existed (or after its last row).

    Run once, with writers stopped; returns how many events were chained.
    """
    last = select_last_chain(recorder)
    after, previous = last if last else (0, GENESIS)
    done = 0
    while events := list(recorder.select_notifications(after, PAGE, inclusive_of_start=False)):
        rows = []
        for event in events:
            digest = record_digest(
                event.originator_id, event.originator_version, event.topic, event.state
            )
            previous = next_chain(previous, event.id, digest)
            rows.append((event.id, digest, previous))
        insert_chain_rows(recorder, rows)
        after, done = events[-1].id, done + len(events)
        if progress:
            progress(after)
    return done


def select_last_chain(recorder: Any) -> tuple[int, bytes] | None:
    return last_chain_row(recorder)


def replay_agent(
    ledger: Any, agent_id: Any, as_of: Any = None, known_at: datetime | None = None
) -> dict[str, Any]:
    """An agent's counter and history from its events (not the views): as of an effective date,
    as known at a recorded time, with each movement's provenance.

    Read now, the history is in log order; read as of a date or as known at a time, it is in
    effective-date order (then recording order) with each movement's running balance."""
    kept = []
    for position, stored in select_positioned_events_of(ledger.recorder, [agent_id]):
        if not stored.topic.startswith(AGENT_TOPIC):
            continue  # another kind of aggregate: no agent here
        event = ledger.mapper.to_domain_event(stored)
        if as_of is not None and event.effective_date > as_of:
            continue
        if known_at is not None and event.timestamp > known_at:
            continue
        kept.append((position, event))
    if as_of is not None or known_at is not None:
        kept.sort(key=lambda pair: (pair[1].effective_date, pair[0]))
    history, balance, reserve = [], 0, 0
    for position, event in kept:
        balance += event.counter_change()
        reserve += event.reserve_change()
        history.append(
            {
                "position": position,
                "version": event.originator_version,
                "kind": type(event).__name__,
                "effective_date": event.effective_date.isoformat(),
                "recorded_at": event.timestamp.isoformat(),
                "hours": event.counter_change(),
                "reserve_hours": event.reserve_change(),
                "balance_after": balance,
                "provenance": event.provenance,
            }
        )
    return {"agent_id": agent_id.hex, "balance": balance, "reserve": reserve, "movements": history}
