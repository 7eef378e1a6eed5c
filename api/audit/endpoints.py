"""Auditors: raw events, chain verification, signed checkpoints, replay from the events, and the
read trail. Operators may use them too; employers may not."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from api.audit.schemas import RawEvent, Replay, SignedCheckpoint, TrailEntry, Verification
from api.auth import ReaderOfEverything, Svc
from api.bootstrap import Services
from api.common import mask_nir, saw, utc_iso
from api.problems import ApiProblem
from ledger.application import AGENT_TOPIC
from ledger.audit import (
    Checkpoint,
    check_checkpoint,
    make_checkpoint,
    private_key,
    replay_agent,
    verify_chain,
)
from ledger.domain import errors
from ledger.store.events import select_positioned_events_of
from projections.decode import decode

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get(
    "/agents/{agent_id}/events",
    response_model=list[RawEvent],
    summary="An agent's stored events, in log order, with positions and provenance",
)
def agent_events(
    agent_id: UUID,
    request: Request,
    principal: ReaderOfEverything,
    svc: Svc,
    after_version: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 500,
) -> object:
    rows = [
        (position, event)
        for position, event in select_positioned_events_of(svc.ledger.recorder, [agent_id])
        if event.originator_version > after_version and event.topic.startswith(AGENT_TOPIC)
    ][:limit]
    if not rows and after_version == 0:
        raise errors.AgentNotFound("no such agent")
    result = []
    for position, event in rows:
        movement = decode(
            position, event.originator_id, event.originator_version, event.topic, event.state
        )
        fields = {k: v for k, v in movement.fields.items() if k not in ("provenance", "timestamp")}
        if "nir" in fields.get("identity", {}):
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
    saw(request, svc, principal, [agent_id.hex])
    return result


@router.get(
    "/agents/{agent_id}/replay",
    response_model=Replay,
    summary="An agent's counter and history from the events, as of a date and as known "
    "at a time, and whether the views agree",
)
def replay(
    agent_id: UUID,
    request: Request,
    principal: ReaderOfEverything,
    svc: Svc,
    as_of: date | None = None,
    known_at: datetime | None = None,
) -> object:
    result = replay_agent(svc.ledger, agent_id, as_of, _aware(known_at))
    if not result["movements"] and as_of is None and known_at is None:
        raise errors.AgentNotFound("no such agent")
    views: dict[str, Any] = svc.queries.balance(principal, agent_id.hex, as_of, utc_iso(known_at))
    result["views"] = {"balance": views["balance"], "reserve": views["reserve"]}
    result["differs_from_views"] = (views["balance"], views["reserve"]) != (
        result["balance"],
        result["reserve"],
    )
    saw(request, svc, principal, [agent_id.hex])
    return result


def _aware(moment: datetime | None) -> datetime | None:
    """The time in UTC (naive times are UTC); 422 when it does not fit."""
    text = utc_iso(moment)
    return None if text is None else datetime.fromisoformat(text)


@router.get(
    "/verification",
    response_model=Verification,
    summary="Recompute the event log's hash chain (auditors)",
)
async def verification(principal: ReaderOfEverything, svc: Svc) -> object:
    return await run_in_threadpool(chain_verification, svc)


def chain_verification(
    svc: Services, progress: Callable[[int], None] | None = None
) -> dict[str, Any]:
    """Verify the chain (``progress`` gets each position reached, every few thousand events)
    and whether the log still extends every checkpoint taken."""
    result = verify_chain(svc.ledger.recorder, progress=progress)
    checkpoints = []
    trusted = svc.settings.trusted_checkpoint_key
    for kept in svc.checkpoints.all():
        problem = (
            check_checkpoint(svc.ledger.recorder, Checkpoint(**kept), trusted)
            if trusted
            else "no trusted public key is configured (LEDGER_AUDIT_TRUSTED_KEY)"
        )
        checkpoints.append(
            {
                "position": kept["position"],
                "created_at": kept["created_at"],
                "extended": problem is None,
                "problem": problem,
            }
        )
    return {
        "ok": result.ok and all(c["extended"] for c in checkpoints),
        "checked": result.checked,
        "head_position": result.head_position,
        "head_chain": result.head_chain,
        "first_break": asdict(result.first_break) if result.first_break else None,
        "checkpoints": checkpoints,
    }


@router.get(
    "/checkpoints", response_model=list[SignedCheckpoint], summary="Signed checkpoints taken so far"
)
def list_checkpoints(principal: ReaderOfEverything, svc: Svc) -> object:
    return svc.checkpoints.all()


@router.post(
    "/checkpoints",
    status_code=201,
    response_model=SignedCheckpoint,
    summary="Sign the current chain head (after verifying it); keep the file it returns",
)
def take_checkpoint(principal: ReaderOfEverything, svc: Svc) -> object:
    try:
        checkpoint = make_checkpoint(
            svc.ledger.recorder, private_key(svc.ledger.settings.checkpoint_signing_seed)
        )
    except ValueError as error:
        raise ApiProblem(409, "chain_broken", str(error)) from None
    svc.checkpoints.add(asdict(checkpoint))
    return asdict(checkpoint)


@router.get(
    "/trail", response_model=list[TrailEntry], summary="Who saw an agent, or what a principal saw"
)
def trail(
    principal: ReaderOfEverything,
    svc: Svc,
    agent_id: UUID | None = None,
    seen_by: Annotated[str | None, Query(max_length=200, description="A principal label")] = None,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 500,
) -> object:
    if agent_id is None and seen_by is None:
        raise ApiProblem(422, "invalid_request", "give agent_id or seen_by")
    return svc.trail.query(agent_id.hex if agent_id else None, seen_by, after, limit)
