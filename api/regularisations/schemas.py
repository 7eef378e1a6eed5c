"""Regularisation requests and their attestation."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import Input, Written


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


class Approval(Regularisation):
    """An approved request, and the movement recorded on the agent."""

    movement: Written
