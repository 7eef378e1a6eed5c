"""Stored events decoded straight into movements for the views (orjson, no domain objects).

Decoding the library's JSON directly is several times faster than building event objects, which
matters when a rebuild reads millions of events. How a kind changes the counter and the reserve
comes from ``MOVEMENT_EFFECTS`` (in ``ledger.domain.movements``): one place for that rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger.domain.agent import movement_effects
from ledger.store.effects import plain_fields

AGENT = "Agent"


@dataclass(frozen=True, slots=True)
class Movement:
    """One event of an agent's history, as the views see it."""

    position: int
    aggregate: str  # "Agent", "RegularisationRequest", "Establishment", "ApiKey"
    agent_id: str  # the originator's id (hex): the agent for an Agent's event
    version: int
    kind: str
    effective_date: str
    recorded_at: str
    counter: int
    reserve: int
    siret: str | None
    year: int | None
    fields: dict[str, Any]

    @property
    def provenance(self) -> dict[str, Any]:
        provenance: dict[str, Any] = self.fields["provenance"]
        return provenance


def decode(position: int, originator_id: Any, version: int, topic: str, state: bytes) -> Movement:
    """The movement recorded in a stored event (``topic`` is ``module:Aggregate.Event``)."""
    aggregate, _, kind = topic.partition(":")[2].partition(".")
    fields = plain_fields(state)
    counter, reserve = movement_effects(kind, fields) if aggregate == AGENT else (0, 0)
    agent_id = (
        originator_id.hex if hasattr(originator_id, "hex") else str(originator_id).replace("-", "")
    )
    return Movement(
        position=position,
        aggregate=aggregate,
        agent_id=agent_id,
        version=version,
        kind=kind,
        effective_date=fields.get("effective_date") or fields["timestamp"][:10],
        recorded_at=fields["timestamp"],
        counter=counter,
        reserve=reserve,
        siret=fields.get("siret"),
        year=fields.get("year"),
        fields=fields,
    )
