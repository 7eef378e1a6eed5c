"""Auditors: an agent's raw events in log order, with positions and provenance."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from api.auth import Authenticated, require_reader_of_everything
from api.routes.common import mask_nir
from api.schemas import RawEvent
from api.services import Services, services
from ledger import errors
from ledger.stores import select_positioned_events_of
from projections.decode import decode

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get(
    "/agents/{agent_id}/events",
    response_model=list[RawEvent],
    summary="An agent's stored events, in log order (auditors, operators)",
)
def agent_events(
    agent_id: UUID,
    principal: Authenticated,
    svc: Annotated[Services, Depends(services)],
    after_version: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 500,
) -> object:
    require_reader_of_everything(principal)
    rows = [
        (position, event)
        for position, event in select_positioned_events_of(svc.ledger.recorder, [agent_id])
        if event.originator_version > after_version
    ][:limit]
    if not rows and after_version == 0:
        raise errors.AgentNotFound("no such agent")
    result = []
    for position, event in rows:
        movement = decode(
            position, event.originator_id, event.originator_version, event.topic, event.state
        )
        fields = {k: v for k, v in movement.fields.items() if k not in ("provenance", "timestamp")}
        if "identity" in fields:
            fields["identity"] = {**fields["identity"], "nir": mask_nir(fields["identity"]["nir"])}
        result.append(
            {
                "position": position,
                "version": movement.version,
                "topic": event.topic,
                "recorded_at": movement.recorded_at,
                "provenance": movement.provenance,
                "fields": fields,
            }
        )
    return result
