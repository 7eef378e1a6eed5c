"""Request and response bodies. Inputs forbid unknown fields."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ledger.access import Profile


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


Hours = Field(gt=0, le=100_000, description="A whole number of hours, greater than zero")


# ------------------------------------------------------------------ agents


class AgentRegistration(Input):
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


class AgentLookup(Input):
    nir: str = Field(min_length=13, max_length=21)
    birth_name: str = Field(min_length=1, max_length=100)


class AgentRef(BaseModel):
    agent_id: str


class Written(BaseModel):
    """What a write did; ``position`` lets the caller read its own write (``min_position``)."""

    agent_id: str | None = None
    kind: str | None = None
    hours: int | None = None
    reserve_hours: int | None = None
    balance_after: int | None = None
    decrement_id: str | None = None
    replayed: bool = False
    position: int | None = None


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


class DifConversion(Input):
    hours: int = Field(gt=0, le=120)


class LowQualification(Input):
    from_year: int = Field(ge=2017, le=2100)
    effective_date: date | None = None


class InaptitudeCredit(Input):
    hours: int = Field(gt=0, le=150)
    effective_date: date | None = None


class Closure(Input):
    reason: Literal["retirement", "invalidity"]
    effective_date: date | None = None


class DifReserve(Input):
    siret: str = Field(min_length=14, max_length=20)
    hours: int = Field(gt=0, le=120)


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


# --------------------------------------------------------------- decrements


class Training(Input):
    title: str = Field(min_length=1, max_length=200)
    start: date
    end: date
    reference: str = Field(default="", max_length=100, description="The employer's reference")

    @model_validator(mode="after")
    def dates_in_order(self) -> Training:
        if self.end < self.start:
            raise ValueError("the training ends before it starts")
        return self


class DecrementRequest(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "nir": "180057505600266",
                    "birth_name": "DUPONT",
                    "siret": "21750001600019",
                    "days": 2,
                    "training": {
                        "title": "Bureautique",
                        "start": "2026-03-02",
                        "end": "2026-03-03",
                        "reference": "F-001",
                    },
                    "anticipated": False,
                }
            ]
        },
    )

    nir: str = Field(min_length=13, max_length=21)
    birth_name: str = Field(min_length=1, max_length=100)
    siret: str = Field(min_length=14, max_length=20)
    hours: int | None = Field(default=None, gt=0, le=10_000)
    days: float | None = Field(default=None, gt=0, le=1_000, description="1 day = 6 h, ½ day = 3 h")
    training: Training
    anticipated: bool = False

    @model_validator(mode="after")
    def hours_or_days(self) -> DecrementRequest:
        if (self.hours is None) == (self.days is None):
            raise ValueError("give the duration either in hours or in days")
        return self


class Cancellation(Input):
    reason: str = Field(min_length=1, max_length=500)


# ---------------------------------------------------------- regularisations


class Attestation(Input):
    signatory: str | None = Field(default=None, max_length=200)
    signature_date: date | None = None
    stamp_present: bool | None = None


class RegularisationSubmission(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "agent_id": "2b25fb442f534af2b896402f1bb7c556",
                    "siret": "21750001600019",
                    "year": 2025,
                    "hours": -5,
                    "reason": "DSN corrigée",
                    "attestation": {
                        "signatory": "Mme Roux, DRH",
                        "signature_date": "2026-02-10",
                        "stamp_present": True,
                    },
                }
            ]
        },
    )

    agent_id: UUID
    siret: str = Field(min_length=14, max_length=20)
    year: int = Field(ge=2017, le=2100)
    hours: int = Field(ge=-1000, le=1000, description="Signed correction of the year's hours")
    attestation: Attestation
    reason: str = Field(default="", max_length=1000)


class RegularisationRejection(Input):
    reason: str = Field(min_length=1, max_length=1000)


class Regularisation(BaseModel):
    request_id: str
    agent_id: str
    siret: str
    year: int
    hours: int
    status: str
    reason: str | None = None
    decision_reason: str | None = None
    submitted_at: str | None = None
    decided_at: str | None = None


class RegularisationPage(BaseModel):
    items: list[Regularisation]
    next_cursor: str | None


# ------------------------------------------------------------------- access


class EstablishmentIn(Input):
    siret: str = Field(min_length=14, max_length=20)
    name: str = Field(min_length=1, max_length=200)


class EstablishmentOut(BaseModel):
    siret: str
    name: str
    users: dict[str, dict[str, str]]
    delegations: dict[str, str]
    delegates: list[str]


class UserIn(Input):
    name: str = Field(min_length=1, max_length=200)
    profile: Profile


class UserOut(BaseModel):
    user_id: str


class DelegationIn(Input):
    delegated_siret: str = Field(min_length=14, max_length=20)
    centraliser_siret: str | None = Field(
        default=None,
        min_length=14,
        max_length=20,
        description="Operators only: the centraliser (an employer asks for its own SIRET)",
    )


class KeyIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "role": "employer",
                    "name": "Logiciel RH",
                    "siret": "21750001600019",
                    "user_id": "6f1c2d9e-1b0a-4c55-9a63-0d1e2f3a4b5c",
                    "label": "paie",
                }
            ]
        },
    )

    role: Literal["employer", "operator", "auditor"]
    name: str = Field(min_length=1, max_length=200)
    siret: str | None = Field(default=None, min_length=14, max_length=20)
    user_id: str | None = Field(default=None, max_length=64)
    label: str = Field(default="", max_length=200)


class KeyOut(BaseModel):
    key_id: str
    token: str | None = Field(description="The secret, shown once (null when replayed)")


class Me(BaseModel):
    role: str
    name: str
    key_id: str
    siret: str | None
    profile: str | None
    sirets: list[str]


class ProjectionStatus(BaseModel):
    view: str
    generation: int
    position: int
    head: int
    lag_events: int
    lag_seconds: float
    rebuilding_generation: int | None
    rebuilding_position: int | None


class RebuildIn(Input):
    view: Literal["balances", "movements", "employer_index", "regularisation_requests"] | None = (
        None
    )


class RawEvent(BaseModel):
    position: int
    version: int
    topic: str
    recorded_at: str
    provenance: dict[str, Any]
    fields: dict[str, Any]
