"""Health, readiness, and the operators' projection controls."""

from __future__ import annotations

import threading
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from api.auth import Authenticated, require_operator, require_reader_of_everything
from api.problems import ApiProblem, problem
from api.schemas import ProjectionStatus, RebuildIn
from api.services import Services, services
from projections.views import VIEWS

router = APIRouter(tags=["operations"])
Svc = Annotated[Services, Depends(services)]
_rebuild_lock = threading.Lock()
_rebuilds: list[threading.Thread] = []


def wait_for_rebuilds(timeout: float) -> None:
    """At shutdown: let a running rebuild reach a page boundary (it resumes when started again)."""
    for thread in _rebuilds:
        thread.join(timeout)
    _rebuilds.clear()


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
def projections_status(principal: Authenticated, svc: Svc) -> object:
    require_reader_of_everything(principal)
    return [asdict(status) for status in svc.projector.status()]


@router.post(
    "/v1/projections/rebuild",
    status_code=202,
    summary="Start a blue/green rebuild in the background (operator)",
)
def rebuild(body: RebuildIn, request: Request, principal: Authenticated, svc: Svc) -> object:
    require_operator(principal)
    names = [body.view] if body.view else list(VIEWS)
    if not _rebuild_lock.acquire(blocking=False):
        raise ApiProblem(409, "rebuild_running", "a rebuild is already running in this process")

    def run() -> None:
        try:
            svc.projector.rebuild(names)
        finally:
            _rebuild_lock.release()

    thread = threading.Thread(target=run, name="rebuild", daemon=True)
    _rebuilds.append(thread)
    thread.start()
    return {"status": "started", "views": names}
