"""Health, readiness, and the operators' projection controls."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from api.auth import OperatorOnly, ReaderOfEverything, Svc
from api.operations.schemas import ProjectionStatus, RebuildIn
from api.problems import ApiProblem, problem
from projections.views import VIEWS

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is up")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The store is reachable; the projector's lag")
def readyz(svc: Svc) -> object:
    try:
        head = svc.ledger.recorder.max_notification_id() or 0
        positions = svc.projector.positions()
    except Exception:  # any failure to reach a store means not ready
        return problem(503, "not_ready", "the store is unreachable", {"Retry-After": "5"})
    return {
        "status": "ready",
        "head": head,
        "lag_events": {view: head - position for view, position in positions.items()},
    }


@router.get(
    "/v1/projections",
    response_model=list[ProjectionStatus],
    summary="Each view's position, the log head and the lag (operators, auditors)",
)
def projections_status(principal: ReaderOfEverything, svc: Svc) -> object:
    return [asdict(status) for status in svc.projector.status()]


@router.post(
    "/v1/projections/rebuild",
    status_code=202,
    summary="Start a blue/green rebuild in the background (operator)",
)
def rebuild(body: RebuildIn, principal: OperatorOnly, svc: Svc) -> object:
    names = [body.view] if body.view else list(VIEWS)
    if not svc.background.start("rebuild", lambda: svc.projector.rebuild(names)):
        raise ApiProblem(409, "rebuild_running", "a rebuild is already running in this process")
    return {"status": "started", "views": names}
