"""Agents' request and response bodies; each movement request builds its command."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import Input
from ledger import commands as cmd
from ledger.domain.movements import ClosureReason
from ledger.domain.provenance import Provenance


def _dated(effective_date: date | None) -> dict[str, date]:
    """The effective date when the request gives one (else the command's own default)."""
    return {} if effective_date is None else {"effective_date": effective_date}


class AgentRegistration(Input):
    """An agent's identity; its id derives from the NIR."""

    nir: str = Field(min_length=13, max_length=21, description="NIR (spaces allowed); never logged")
    birth_name: str = Field(min_length=1, max_length=100)
    first_name: str = Field(min_length=1, max_length=100)
    birth_date: date
    effective_date: date | None = Field(
        default=None, description="When the agent's counter starts (default: today)"
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "nir": "1 80 05 75 056 002 66",
                    "birth_name": "Dupont",
                    "first_name": "Jean",
                    "birth_date": "1980-05-01",
                }
            ]
        },
    )

    def to_command(self, key: bytes, provenance: Provenance) -> cmd.RegisterAgent:
        return cmd.RegisterAgent.for_nir(
            self.nir,
            self.birth_name,
            self.first_name,
            self.birth_date,
            key,
            provenance,
            **_dated(self.effective_date),
        )


class AgentLookup(Input):
    nir: str = Field(min_length=13, max_length=21)
    birth_name: str = Field(min_length=1, max_length=100)


class AgentRef(BaseModel):
    agent_id: str


class Acquisition(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"year": 2025, "siret": "21750001600019", "hours_worked": 803.5}]
        },
    )

    year: int = Field(ge=2017, le=2100)
    siret: str = Field(min_length=14, max_length=20)
    hours_worked: float = Field(
        ge=0, le=10_000, description="Hours worked that year for this SIRET"
    )

    def to_command(self, agent_id: UUID, provenance: Provenance) -> cmd.Command:
        return cmd.RecordAcquisitionLine(
            agent_id=agent_id,
            year=self.year,
            siret=self.siret,
            hours_worked=Decimal(str(self.hours_worked)),
            provenance=provenance,
        )


class DifConversion(Input):
    hours: int = Field(gt=0, le=120)

    def to_command(self, agent_id: UUID, provenance: Provenance) -> cmd.Command:
        return cmd.ConvertDif(agent_id=agent_id, hours=self.hours, provenance=provenance)


class LowQualification(Input):
    """Effective on 1 January of ``from_year``; refused if a year from then on is credited."""

    from_year: int = Field(ge=2017, le=2100)

    def to_command(self, agent_id: UUID, provenance: Provenance) -> cmd.Command:
        return cmd.DeclareLowQualification(
            agent_id=agent_id, from_year=self.from_year, provenance=provenance
        )


class InaptitudeCredit(Input):
    hours: int = Field(gt=0, le=150)
    effective_date: date | None = Field(
        default=None, description="The occupational physician's opinion (default: today)"
    )

    def to_command(self, agent_id: UUID, provenance: Provenance) -> cmd.Command:
        return cmd.CreditInaptitude(
            agent_id=agent_id,
            hours=self.hours,
            provenance=provenance,
            **_dated(self.effective_date),
        )


class Closure(Input):
    reason: Literal["retirement", "invalidity"]
    effective_date: date | None = Field(
        default=None, description="The retirement date (default: today)"
    )

    def to_command(self, agent_id: UUID, provenance: Provenance) -> cmd.Command:
        return cmd.CloseAccount(
            agent_id=agent_id,
            reason=ClosureReason(self.reason),
            provenance=provenance,
            **_dated(self.effective_date),
        )


class DifReserve(Input):
    siret: str = Field(min_length=14, max_length=20)
    hours: int = Field(gt=0, le=120)

    def to_command(self, agent_id: UUID, provenance: Provenance) -> cmd.Command:
        return cmd.DeclareDifReserve(
            agent_id=agent_id, siret=self.siret, hours=self.hours, provenance=provenance
        )


class Cancellation(Input):
    reason: str = Field(min_length=1, max_length=500)

    def to_command(
        self, agent_id: UUID, decrement_id: str, provenance: Provenance
    ) -> cmd.CancelDecrement:
        return cmd.CancelDecrement(
            agent_id=agent_id, decrement_id=decrement_id, reason=self.reason, provenance=provenance
        )


class SiretReserve(BaseModel):
    """The undeclared-DIF hours one SIRET keeps for the agent (only its own decrements use them)."""

    siret: str
    hours: int


class Balance(BaseModel):
    """The counter, and what explains what may be done with it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "agent_id": "2b25fb442f534af2b896402f1bb7c556",
                    "balance": 48,
                    "ceiling": 150,
                    "floor": -50,
                    "reserve": 80,
                    "reserves": [{"siret": "21750001600019", "hours": 80}],
                    "status": "open",
                    "low_qualification_from": None,
                    "last_movement_kind": "DifReserveDeclared",
                    "last_movement_date": "2016-12-31",
                    "last_recorded_at": "2026-03-02T09:14:00+00:00",
                    "version": 4,
                    "position": 1234,
                }
            ]
        }
    )

    agent_id: str
    balance: int = Field(description="The counter, in hours (below zero after an anticipation)")
    ceiling: int = Field(description="The ceiling in force: 150 h, or 400 h if low-qualified")
    floor: int = Field(
        description="The lowest an anticipated decrement may take the counter now "
        "(−2 × the yearly rate; 0 once the account is closed)"
    )
    reserve: int = Field(description="Undeclared-DIF hours kept by employers, all SIRETs")
    reserves: list[SiretReserve] = Field(description="The undeclared-DIF reserve of each SIRET")
    status: str = Field(description="open, closed (retirement) or invalidity")
    low_qualification_from: int | None
    last_movement_kind: str | None
    last_movement_date: str | None
    last_recorded_at: str | None
    version: int
    position: int


class BalanceAt(BaseModel):
    """The counter as it stood on an effective date (``as_of``), as recorded by a time
    (``known_at``)."""

    agent_id: str
    balance: int
    reserve: int
    reserves: list[SiretReserve]
    ceiling: int
    floor: int
    status: str
    movements: int
    position: int | None
    as_of: date | None
    known_at: datetime | None
    current_balance: int


class Movement(BaseModel):
    position: int
    agent_id: str
    version: int
    kind: str
    effective_date: str
    recorded_at: str
    hours: int
    reserve_hours: int
    balance_after: int
    reserve_after: int
    siret: str | None
    year: int | None
    principal: str | None
    channel: str | None
    source: str | None
    idempotency_key: str | None
    details: dict[str, Any]
    from_reserve: int | None = Field(
        default=None, description="Decrements: hours taken from the SIRET's undeclared-DIF reserve"
    )
    from_counter: int | None = Field(
        default=None, description="Decrements: hours taken from the counter"
    )


class MovementPage(BaseModel):
    items: list[Movement]
    next_cursor: str | None


class AgentBalance(BaseModel):
    """One agent of an employer's list: its counter, ceiling, reserve (all SIRETs) and status."""

    agent_id: str
    balance: int
    ceiling: int
    reserve: int
    status: str
    low_qualification_from: int | None
    last_movement_kind: str | None
    last_movement_date: str | None
    last_recorded_at: str | None
    version: int
    position: int


class BalancePage(BaseModel):
    items: list[AgentBalance]
    next_cursor: str | None


class Identity(BaseModel):
    agent_id: str
    nir_masked: str = Field(description="First digit and last four characters of the NIR")
    birth_name: str
    first_name: str
    birth_date: date
