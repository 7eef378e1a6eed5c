"""Decrements (décrémentation): hours consumed by a training the employer accepted and paid."""

from __future__ import annotations

import uuid
from fractions import Fraction
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from api.auth import Authenticated, require_writer
from api.idempotency import IdempotencyKey, idempotent
from api.routes.common import provenance, written
from api.schemas import DecrementRequest, Written
from api.services import Services, services
from ledger.identifiers import Siret
from ledger.rules import training_hours

router = APIRouter(prefix="/v1/decrements", tags=["decrements"])


@router.post(
    "",
    status_code=201,
    response_model=Written,
    summary="Record a decrement for an agent identified by NIR and birth name (gestion)",
    description="The undeclared-DIF hours the SIRET keeps are taken first, then the counter. "
    "Only `anticipated: true` lets the counter go below zero, never below -2 x the "
    "yearly rate.",
)
def record_decrement(
    body: DecrementRequest,
    request: Request,
    principal: Authenticated,
    svc: Annotated[Services, Depends(services)],
    idempotency_key: IdempotencyKey = None,
) -> object:
    siret = Siret.parse(body.siret).value
    require_writer(principal, siret)
    hours = training_hours(body.hours, Fraction(str(body.days)) if body.days is not None else None)

    def run() -> tuple[int, object]:
        agent_id = svc.ledger.find_agent(body.nir, body.birth_name)
        receipt = svc.ledger.decrement(
            agent_id,
            siret,
            hours,
            body.training.start,
            provenance(request, principal, idempotency_key),
            training={
                "title": body.training.title,
                "start": body.training.start.isoformat(),
                "end": body.training.end.isoformat(),
                "reference": body.training.reference,
            },
            anticipated=body.anticipated,
            decrement_id=str(uuid.uuid4()),
        )
        return 201, written(receipt)

    return idempotent(
        request, svc.idempotency, principal, idempotency_key, body.model_dump(mode="json"), run
    )
