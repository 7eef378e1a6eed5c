"""An employer's request to correct a year's acquisition, with its signed attestation."""

from __future__ import annotations

import uuid
from typing import Any

from eventsourcing.domain import Aggregate

from ledger.domain import errors
from ledger.domain.text import printable, printable_values
from ledger.domain.topics import pin_topics


class RegularisationRequest(Aggregate):
    """An employer's request to correct a year's acquisition, with its signed attestation."""

    class Event(Aggregate.Event):
        provenance: dict[str, Any]

    class Submitted(Aggregate.Created, Event):
        agent_id: uuid.UUID
        siret: str
        year: int
        hours: int
        attestation: dict[str, Any]
        reason: str

    def __init__(
        self,
        agent_id: uuid.UUID,
        siret: str,
        year: int,
        hours: int,
        attestation: dict[str, Any],
        reason: str,
    ) -> None:
        self.agent_id = agent_id
        self.siret = siret
        self.year = year
        self.hours = hours
        self.attestation = attestation
        self.reason = reason
        self.status = "submitted"
        self.decision_reason: str | None = None

    @classmethod
    def submit(
        cls,
        request_id: uuid.UUID,
        agent_id: uuid.UUID,
        siret: str,
        year: int,
        hours: int,
        attestation: dict[str, Any],
        reason: str,
        provenance: dict[str, Any],
    ) -> RegularisationRequest:
        printable("reason", reason, multiline=True)
        printable_values("attestation", attestation)
        return cls._create(
            cls.Submitted,
            id=request_id,
            agent_id=agent_id,
            siret=siret,
            year=year,
            hours=hours,
            attestation=attestation,
            reason=reason,
            provenance=provenance,
        )

    class Decided(Event):
        status: str
        reason: str | None

        def apply(self, aggregate: Any) -> None:
            aggregate.status = self.status
            aggregate.decision_reason = self.reason

    def decide(self, approved: bool, reason: str | None, provenance: dict[str, Any]) -> None:
        if self.status != "submitted":
            raise errors.RegularisationAlreadyDecided(f"this request is already {self.status}")
        printable("reason", reason or "", multiline=True)
        if not approved and not (reason or "").strip():
            raise errors.InvalidInput("a rejection needs a reason")
        self.trigger_event(
            self.Decided,
            status="approved" if approved else "rejected",
            reason=reason,
            provenance=provenance,
        )


# Recorded under ledger.access before the domain had its own package.
pin_topics("ledger.access", RegularisationRequest)
