"""Health, readiness, and the operators' projection controls."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import anyio
from fastapi import APIRouter

from api.auth import OperatorOnly, ReaderOfEverything, Svc
from api.bootstrap import Services
from api.operations.schemas import ProjectionStatus, Readiness, RebuildIn, RebuildStarted
from api.problems import ApiProblem, problem
from projections.views import VIEWS

router = APIRouter(tags=["operations"])


READINESS_TIMEOUT = 2.0
_readiness_limiter = anyio.CapacityLimiter(2)  # never waits behind the requests' threads


@router.get("/healthz", summary="The process is up (answers at once, whatever the store does)")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


def readiness(svc: Services) -> tuple[bool, dict[str, Any]]:
    """Whether this process can serve: the store answers, and the projector advances (no event
    it cannot apply, no view lagging longer than the configured limit)."""
    statuses = svc.projector.status()
    failure = svc.health.current()
    reasons = []
    if failure is not None:
        reasons.append(
            f"the projector cannot apply the event at position {failure['failing_position']} "
            f"({failure['error']}, {failure['attempts']} attempts since {failure['since']})"
        )
    limit = svc.settings.ready_max_lag_seconds
    stalled = [s.view for s in statuses if s.lag_seconds > limit]
    if stalled:
        reasons.append(f"views not advancing for over {limit:.0f} s: {', '.join(stalled)}")
    head = statuses[0].head if statuses else 0
    return not reasons, {
        "head": head,
        "lag_events": {s.view: s.lag_events for s in statuses},
        "lag_seconds": {s.view: round(s.lag_seconds, 1) for s in statuses},
        "reasons": reasons,
    }


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Ready to serve: the store answers and the projector advances",
)
async def readyz(svc: Svc) -> object:
    try:
        with anyio.fail_after(READINESS_TIMEOUT):
            ready, state = await anyio.to_thread.run_sync(
                readiness, svc, limiter=_readiness_limiter, abandon_on_cancel=True
            )
    except TimeoutError:
        return problem(
            503,
            "not_ready",
            f"the store did not answer within {READINESS_TIMEOUT:.0f} s",
            {"Retry-After": "5"},
        )
    except Exception:  # any failure to reach a store means not ready
        return problem(503, "not_ready", "the store is unreachable", {"Retry-After": "5"})
    if not ready:
        return problem(
            503, "not_ready", "; ".join(state["reasons"]), {"Retry-After": "5"}, extra=state
        )
    return {"status": "ready", **state}


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
    response_model=RebuildStarted,
    summary="Start a blue/green rebuild in the background (operator)",
)
def rebuild(body: RebuildIn, principal: OperatorOnly, svc: Svc) -> object:
    names = [body.view] if body.view else list(VIEWS)
    if not svc.background.start("rebuild", lambda: svc.projector.rebuild(names)):
        raise ApiProblem(409, "rebuild_running", "a rebuild is already running in this process")
    return {"status": "started", "views": names}
