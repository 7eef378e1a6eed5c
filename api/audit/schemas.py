"""Auditors' views of the raw events."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class RawEvent(BaseModel):
    position: int
    version: int
    topic: str
    recorded_at: str
    provenance: dict[str, Any]
    fields: dict[str, Any]


class ReplayedMovement(BaseModel):
    position: int
    version: int
    kind: str
    effective_date: str
    recorded_at: str
    hours: int
    reserve_hours: int
    balance_after: int = Field(description="The running balance of this history")
    provenance: dict[str, Any]


class ViewFigures(BaseModel):
    balance: int
    reserve: int


class Replay(BaseModel):
    """An agent's counter and history recomputed from its events, and whether the views agree."""

    agent_id: str
    balance: int
    reserve: int
    movements: list[ReplayedMovement]
    views: ViewFigures
    differs_from_views: bool


class ChainBreak(BaseModel):
    position: int
    problem: str = Field(
        description="altered, deleted, inserted, reordered, chain_altered, outside_chain "
        "or versions_broken"
    )
    detail: str


class CheckpointCheck(BaseModel):
    position: int
    created_at: str
    extended: bool = Field(description="The log still extends it, signed by the trusted key")
    problem: str | None


class Verification(BaseModel):
    ok: bool
    checked: int
    head_position: int
    head_chain: str
    first_break: ChainBreak | None
    checkpoints: list[CheckpointCheck]


class SignedCheckpoint(BaseModel):
    position: int
    chain: str
    created_at: str
    public_key: str
    signature: str


class TrailEntry(BaseModel):
    id: int
    at: str
    principal: str
    via: str
    agent_id: str
