"""Regularisations: an employer's signed request, approved or rejected by a CDC operator."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request

from api.auth import Authenticated, OperatorOnly, Svc, Writer
from api.bootstrap import Services
from api.common import provenance, saw, written
from api.idempotency import IdempotencyKey, idempotent
from api.regularisations.schemas import (
    Approval,
    Regularisation,
    RegularisationPage,
    RegularisationRejection,
    RegularisationSubmission,
)
from ledger.domain import errors
from ledger.domain.access import Principal
from ledger.domain.identifiers import Siret
from projections import scope

router = APIRouter(prefix="/v1/regularisations", tags=["regularisations"])


def request_summary(svc: Services, request_id: UUID) -> dict[str, object]:
    found = svc.access.regularisation(request_id)
    return {
        "request_id": found.id.hex,
        "agent_id": found.agent_id.hex,
        "siret": found.siret,
        "year": found.year,
        "hours": found.hours,
        "status": found.status,
        "reason": found.reason,
        "decision_reason": found.decision_reason,
    }


def visible_request(svc: Services, principal: Principal, request_id: UUID) -> dict[str, object]:
    summary = request_summary(svc, request_id)
    if not scope.acts_for(principal, str(summary["siret"])):
        raise errors.RegularisationRequestNotFound("no such regularisation request")
    return summary


@router.post(
    "",
    status_code=201,
    response_model=Regularisation,
    summary="Submit a regularisation request with its attestation (gestion)",
)
def submit(
    body: RegularisationSubmission,
    request: Request,
    principal: Writer,
    svc: Svc,
    idempotency_key: IdempotencyKey = None,
) -> object:
    siret = Siret.parse(body.siret).value
    scope.require_writer_for(principal, siret)

    def run() -> tuple[int, object]:
        request_id = svc.access.submit_regularisation(
            body.agent_id,
            siret,
            body.year,
            body.hours,
            body.attestation.model_dump(mode="json"),
            body.reason,
            provenance(request, principal, idempotency_key),
            guard=scope.agent_guard(principal),
        )
        return 201, request_summary(svc, request_id)

    return idempotent(
        request, svc.idempotency, principal, idempotency_key, body.model_dump(mode="json"), run
    )


@router.get(
    "",
    response_model=RegularisationPage,
    summary="Regularisation requests (an employer sees its SIRETs' requests)",
)
def list_requests(
    request: Request,
    principal: Authenticated,
    svc: Svc,
    status: Annotated[str | None, Query(max_length=20)] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> RegularisationPage:
    items, next_cursor = svc.queries.regularisations(principal, status, cursor, limit)
    saw(request, svc, principal, [item["agent_id"] for item in items])
    return RegularisationPage.model_validate({"items": items, "next_cursor": next_cursor})


@router.get("/{request_id}", response_model=Regularisation, summary="One request and its status")
def get_request(request_id: UUID, request: Request, principal: Authenticated, svc: Svc) -> object:
    found = visible_request(svc, principal, request_id)
    saw(request, svc, principal, [str(found["agent_id"])])
    return found


@router.post(
    "/{request_id}/approval",
    status_code=201,
    response_model=Approval,
    summary="Approve: the agent's regularisation is recorded (operator)",
)
def approve(
    request_id: UUID,
    request: Request,
    principal: OperatorOnly,
    svc: Svc,
    idempotency_key: IdempotencyKey = None,
) -> object:

    def run() -> tuple[int, object]:
        receipt = svc.access.decide_regularisation(
            request_id, True, None, provenance(request, principal, idempotency_key)
        )
        assert receipt is not None
        return 201, {**request_summary(svc, request_id), "movement": written(receipt)}

    return idempotent(request, svc.idempotency, principal, idempotency_key, {}, run)


@router.post(
    "/{request_id}/rejection",
    status_code=201,
    response_model=Regularisation,
    summary="Reject with a reason (operator)",
)
def reject(
    request_id: UUID,
    body: RegularisationRejection,
    request: Request,
    principal: OperatorOnly,
    svc: Svc,
    idempotency_key: IdempotencyKey = None,
) -> object:

    def run() -> tuple[int, object]:
        svc.access.decide_regularisation(
            request_id, False, body.reason, provenance(request, principal, idempotency_key)
        )
        return 201, request_summary(svc, request_id)

    return idempotent(
        request, svc.idempotency, principal, idempotency_key, body.model_dump(mode="json"), run
    )
