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
            self.nir, self.birth_name, self.first_name, self.birth_date, key, provenance
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
    from_year: int = Field(ge=2017, le=2100)
    effective_date: date | None = None

    def to_command(self, agent_id: UUID, provenance: Provenance) -> cmd.Command:
        return cmd.DeclareLowQualification(
            agent_id=agent_id,
            from_year=self.from_year,
            provenance=provenance,
            **_dated(self.effective_date),
        )


class InaptitudeCredit(Input):
    hours: int = Field(gt=0, le=150)
    effective_date: date | None = None

    def to_command(self, agent_id: UUID, provenance: Provenance) -> cmd.Command:
        return cmd.CreditInaptitude(
            agent_id=agent_id,
            hours=self.hours,
            provenance=provenance,
            **_dated(self.effective_date),
        )


class Closure(Input):
    reason: Literal["retirement", "invalidity"]
    effective_date: date | None = None

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


class Balance(BaseModel):
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


class BalanceAt(BaseModel):
    agent_id: str
    balance: int
    reserve: int
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


class MovementPage(BaseModel):
    items: list[Movement]
    next_cursor: str | None


class BalancePage(BaseModel):
    items: list[Balance]
    next_cursor: str | None


class Identity(BaseModel):
    agent_id: str
    nir_masked: str = Field(description="First digit and last four characters of the NIR")
    birth_name: str
    first_name: str
    birth_date: date
