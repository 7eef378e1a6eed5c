"""What every resource's bodies share: inputs forbid unknown fields; what a write returns."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from ledger.domain.text import has_control


class Input(BaseModel):
    """A request body: unknown fields and control characters refused (the field is named, its
    value never repeated)."""

    model_config = ConfigDict(extra="forbid")
    multiline: ClassVar[frozenset[str]] = frozenset({"reason"})
    """Fields where a line feed or a tab belongs (free text)."""

    @field_validator("*", mode="after")
    @classmethod
    def printable(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str) and has_control(value, info.field_name in cls.multiline):
            raise ValueError("control characters are not allowed")
        return value


Hours = Field(gt=0, le=100_000, description="A whole number of hours, greater than zero")


class Written(BaseModel):
    """What a write did, so a client never has to read back; ``position`` lets the caller read
    its own write in the views (``min_position``)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "agent_id": "2b25fb442f534af2b896402f1bb7c556",
                    "kind": "Decremented",
                    "effective_date": "2026-03-02",
                    "hours": -20,
                    "reserve_hours": -80,
                    "from_reserve": 80,
                    "from_counter": 20,
                    "credited": None,
                    "requested": None,
                    "balance_after": 28,
                    "reserve_after": 0,
                    "decrement_id": "5d0c1c7e-3f7e-4f55-9a8e-1f0f6c1e2b3a",
                    "replayed": False,
                    "position": 1235,
                }
            ]
        }
    )

    agent_id: str | None = None
    kind: str | None = None
    effective_date: str | None = Field(default=None, description="When the movement counts")
    hours: int | None = Field(default=None, description="Signed change of the counter")
    reserve_hours: int | None = Field(
        default=None, description="Signed change of the undeclared-DIF reserve"
    )
    credited: int | None = Field(
        default=None, description="Credits: hours really credited (after the ceiling)"
    )
    requested: int | None = Field(
        default=None, description="Regularisations and DIF conversions: hours asked for"
    )
    from_reserve: int | None = Field(
        default=None, description="Decrements: hours taken from the SIRET's reserve"
    )
    from_counter: int | None = Field(default=None, description="Decrements: hours from the counter")
    balance_after: int | None = None
    reserve_after: int | None = Field(
        default=None, description="The SIRET's reserve after the movement"
    )
    decrement_id: str | None = None
    replayed: bool = False
    position: int | None = None


class FileRunSummary(BaseModel):
    """What every deposited file's report starts with: the file and its line counts."""

    deposit_id: str
    filename: str
    file_sha256: str
    completed: bool
    lines: int
    applied: int
    rejected: int
