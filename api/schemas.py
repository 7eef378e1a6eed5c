"""What every resource's bodies share: inputs forbid unknown fields; what a write returns."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


Hours = Field(gt=0, le=100_000, description="A whole number of hours, greater than zero")


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
