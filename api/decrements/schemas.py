"""A decrement's request body: hours or days (converted once, by the rules), and the training."""

from __future__ import annotations

from datetime import date
from fractions import Fraction
from uuid import UUID

from pydantic import ConfigDict, Field, model_validator

from api.schemas import Input
from ledger import commands as cmd
from ledger.domain.provenance import Provenance
from ledger.domain.rules import training_hours


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

    def to_command(self, agent_id: UUID, provenance: Provenance) -> cmd.Decrement:
        """The decrement of this request (days converted to hours by the rules)."""
        days = Fraction(str(self.days)) if self.days is not None else None
        return cmd.Decrement(
            agent_id=agent_id,
            siret=self.siret,
            hours=training_hours(self.hours, days),
            effective_date=self.training.start,
            training={
                "title": self.training.title,
                "start": self.training.start.isoformat(),
                "end": self.training.end.isoformat(),
                "reference": self.training.reference,
            },
            anticipated=self.anticipated,
            provenance=provenance,
        )
