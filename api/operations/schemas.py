"""Projections' status and rebuild requests."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from api.schemas import Input
from projections.views import VIEWS


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
    view: str | None = Field(
        default=None,
        description="One view (default: all)",
        json_schema_extra={"enum": list(VIEWS)},
    )

    @field_validator("view")
    @classmethod
    def known_view(cls, value: str | None) -> str | None:
        if value is not None and value not in VIEWS:
            raise ValueError("unknown view; views: " + ", ".join(VIEWS))
        return value


class Readiness(BaseModel):
    status: str
    head: int
    lag_events: dict[str, int]
    lag_seconds: dict[str, float]
    reasons: list[str]


class RebuildStarted(BaseModel):
    status: str
    views: list[str]
