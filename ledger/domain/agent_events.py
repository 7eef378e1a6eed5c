"""The Agent's events: one class per movement, carrying the facts the command computed, and how
each changes the agent's state (``update``, run for a new event and on every replay).

They are attributes of :class:`~ledger.domain.agent.Agent` (``Agent.Decremented``…) and stored
under those names (``ledger.agent:Agent.Decremented``), whatever module holds their code.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from eventsourcing.domain import Aggregate

from ledger.domain.movements import (
    DecrementRecord,
    Identity,
    movement_effects,
    status_after_closure,
)

if TYPE_CHECKING:
    from ledger.domain.agent import Agent


class Event(Aggregate.Event):
    """What every movement of an agent records: its effective date and its provenance."""

    effective_date: date
    provenance: dict[str, Any]

    def apply(self, aggregate: Any) -> None:
        agent: Agent = aggregate
        self.update(agent)
        siret = getattr(self, "siret", None)
        if siret and not isinstance(self, AcquisitionLineRecorded):
            agent.recorded_by.add(siret)  # the employers' scope: a movement it recorded
        key = self.provenance.get("idempotency_key")
        if key:
            agent.receipts[key] = (self.provenance.get("fingerprint"), agent.receipt(self))

    def update(self, agent: Agent) -> None:
        """Change the agent's state. Runs for new events and on every replay."""

    def counter_change(self) -> int:
        """Signed change of the counter."""
        return movement_effects(type(self).__name__, self.__dict__)[0]

    def reserve_change(self) -> int:
        """Signed change of the undeclared-DIF reserve."""
        return movement_effects(type(self).__name__, self.__dict__)[1]


class Registered(Aggregate.Created, Event):
    """The agent's identity (NIR, birth name, first name, birth date): personal data."""

    identity: dict[str, Any]

    def update(self, agent: Agent) -> None:
        agent.stored_identity = self.identity
        if "sealed" not in self.identity:
            agent.identity = Identity(**self.identity)


class AcquisitionLineRecorded(Event):
    """Alimentation: one declaration line (year × SIRET); credits the year's difference."""

    year: int
    siret: str
    hours_worked: Decimal
    credited: int

    def update(self, agent: Agent) -> None:
        agent.year_base.setdefault(self.year, agent.balance)  # before the year's first credit
        agent.year_lines.setdefault(self.year, {})[self.siret] = self.hours_worked
        agent.year_credited[self.year] = agent.year_credited.get(self.year, 0) + self.credited
        agent.balance += self.credited


class DifConverted(Event):
    """DIF hours held at 31 Dec 2016 converted into CPF hours (once)."""

    declared: int
    credited: int

    def update(self, agent: Agent) -> None:
        agent.dif_converted = True
        agent.balance += self.credited


class LowQualificationDeclared(Event):
    """Category C without a level-3 diploma: higher rates and ceiling from ``from_year``."""

    from_year: int

    def update(self, agent: Agent) -> None:
        agent.low_qualification_from = self.from_year


class YearRegularised(Event):
    """A CDC correction of a year's acquisition, on an employer's signed attestation."""

    year: int
    siret: str
    requested: int
    applied: int
    attestation: dict[str, Any]
    request_id: str | None

    def update(self, agent: Agent) -> None:
        agent.year_base.setdefault(self.year, agent.balance)
        agent.year_regularised[self.year] = agent.year_regularised.get(self.year, 0) + self.applied
        agent.balance += self.applied


class DifReserveDeclared(Event):
    """Undeclared DIF hours an employer keeps itself, consumed before the counter."""

    siret: str
    hours: int

    def update(self, agent: Agent) -> None:
        agent.reserves[self.siret] = self.hours


class Decremented(Event):
    """Décrémentation: hours consumed by a training the employer accepted and paid."""

    decrement_id: str
    siret: str
    hours: int
    from_reserve: int
    from_counter: int
    anticipated: bool
    training: dict[str, Any]

    def update(self, agent: Agent) -> None:
        agent.balance -= self.from_counter
        if self.from_reserve:
            agent.reserves[self.siret] -= self.from_reserve
        agent.decrements[self.decrement_id] = DecrementRecord(
            self.siret, self.from_reserve, self.from_counter, self.effective_date
        )


class DecrementCancelled(Event):
    """Compensates a decrement recorded in error or for a cancelled training."""

    decrement_id: str
    siret: str
    to_reserve: int
    to_counter: int
    reason: str

    def update(self, agent: Agent) -> None:
        record = agent.decrements[self.decrement_id]
        record.cancelled = True
        agent.balance += self.to_counter
        if self.to_reserve:
            agent.reserves[record.siret] = agent.reserves.get(record.siret, 0) + self.to_reserve


class InaptitudeCredited(Event):
    """Inaptitude-prevention credit, on top of the ceilings (≤ 150 h in a career)."""

    hours: int

    def update(self, agent: Agent) -> None:
        agent.inaptitude_total += self.hours
        agent.latest_credit = max(agent.latest_credit, self.effective_date)
        agent.balance += self.hours


class Closed(Event):
    """Account closure at retirement (or retirement for invalidity)."""

    reason: str

    def update(self, agent: Agent) -> None:
        agent.status = status_after_closure(self.reason)
