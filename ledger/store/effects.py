"""A stored agent event's movement as typed columns, written beside it at append time.

The views need, for every movement, its kind, dates, the signed change of the counter and of the
undeclared-DIF reserve, its SIRET and year, its provenance and its other fields (the details, never
the identity). Written as columns of the event's row when it is recorded, they let a rebuild fill
the views with set-based SQL instead of decoding every event in Python. They are derived from the
stored bytes by the one function below, which the read side's decoder shares; the audit chain
covers the stored bytes, and ``projections check`` recomputes the views from them.
"""

from __future__ import annotations

from typing import Any

import orjson

from ledger.domain.movements import MOVEMENT_EFFECTS, movement_effects

AGENT_TOPIC_PREFIX = "ledger.agent:Agent."

MOVEMENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("m_kind", "text"),
    ("m_effective_date", "text"),
    ("m_recorded_at", "text"),
    ("m_counter", "int4"),
    ("m_reserve", "int4"),
    ("m_siret", "text"),
    ("m_year", "int4"),
    ("m_principal", "text"),
    ("m_channel", "text"),
    ("m_source", "text"),
    ("m_idempotency_key", "text"),
    ("m_details", "text"),
)
"""(name, type) of the typed columns of an agent event's row (NULL for other aggregates')."""

NOT_DETAILS = frozenset(
    {"timestamp", "provenance", "identity", "originator_topic", "effective_date", "siret", "year"}
)
"""Fields of an event that are not among its details (the identity never is)."""


def plain(value: Any) -> Any:
    """Unwrap the library's ``{"_type_": …, "_data_": …}`` transcodings into their string form."""
    if isinstance(value, dict):
        if len(value) == 2 and "_type_" in value and "_data_" in value:
            return value["_data_"]
        return {key: plain(item) for key, item in value.items()}
    return value


def plain_fields(state: bytes) -> dict[str, Any]:
    """A stored event's fields, transcodings unwrapped."""
    return {key: plain(value) for key, value in orjson.loads(state).items()}


def details_of(fields: dict[str, Any]) -> str:
    """The details of a movement: its fields but the ones with columns of their own."""
    return orjson.dumps({k: v for k, v in fields.items() if k not in NOT_DETAILS}).decode()


def movement_columns(topic: str, state: bytes) -> tuple[Any, ...] | None:
    """The typed columns of a stored event (in ``MOVEMENT_COLUMNS`` order); None when it is not
    an agent's movement."""
    if not topic.startswith(AGENT_TOPIC_PREFIX):
        return None
    kind = topic[len(AGENT_TOPIC_PREFIX) :]
    if kind not in MOVEMENT_EFFECTS:
        return None
    fields = plain_fields(state)
    counter, reserve = movement_effects(kind, fields)
    provenance = fields.get("provenance") or {}
    return (
        kind,
        fields.get("effective_date") or fields["timestamp"][:10],
        fields["timestamp"],
        counter,
        reserve,
        fields.get("siret"),
        fields.get("year"),
        provenance.get("principal"),
        provenance.get("channel"),
        provenance.get("source"),
        provenance.get("idempotency_key"),
        details_of(fields),
    )


NO_MOVEMENT: tuple[None, ...] = (None,) * len(MOVEMENT_COLUMNS)
