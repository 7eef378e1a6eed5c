"""Auditors' views of the raw events."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class RawEvent(BaseModel):
    position: int
    version: int
    topic: str
    recorded_at: str
    provenance: dict[str, Any]
    fields: dict[str, Any]
