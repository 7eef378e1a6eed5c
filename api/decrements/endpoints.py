"""Decrements (décrémentation): hours consumed by a training the employer accepted and paid."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.auth import Svc, Writer
from api.common import execute
from api.decrements.schemas import DecrementRequest
from api.idempotency import IdempotencyKey
from api.schemas import Written
from ledger.domain.errors import DomainError
from ledger.domain.identifiers import Siret
from projections import scope

router = APIRouter(prefix="/v1/decrements", tags=["decrements"])


@router.post(
    "",
    status_code=201,
    response_model=Written,
    summary="Record a decrement for an agent identified by NIR and birth name (gestion)",
    description="The undeclared-DIF hours the SIRET keeps are taken first, then the counter; a "
    "decrement the reserve covers is accepted whatever the counter holds. Only `anticipated: true` "
    "lets the counter go below zero, never below -2 x the yearly rate, and never once the account "
    "is closed. A refusal says why (`needed`, `available` when the caller may see the agent).",
)
def record_decrement(
    body: DecrementRequest,
    request: Request,
    principal: Writer,
    svc: Svc,
    idempotency_key: IdempotencyKey = None,
) -> object:
    siret = Siret.parse(body.siret).value
    scope.require_writer_for(principal, siret)
    svc.access.establishment(siret)  # a SIRET no establishment registered is refused (404)
    sees: list[bool] = []  # whether the caller may see the agent, judged before the decrement
    try:
        return execute(
            request,
            svc,
            principal,
            idempotency_key,
            body,
            lambda where: body.to_command(svc.ledger.find_agent(body.nir, body.birth_name), where),
            lambda agent: sees.append(scope.sees_agent(principal, agent)),
        )
    except DomainError as refused:
        if sees and not sees[0]:
            refused.details = {}  # why it is refused, without figures the caller may not see
        raise
