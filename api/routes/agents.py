"""Agents: registration, look-up by NIR (POST, never in a URL), balances, histories, and the
operators' movements."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request

from api.auth import Authenticated, require_operator, require_writer
from api.idempotency import IdempotencyKey, idempotent
from api.routes.common import (
    MinPosition,
    mask_nir,
    provenance,
    saw,
    utc_iso,
    wait_for_views,
    written,
)
from api.schemas import (
    Acquisition,
    AgentLookup,
    AgentRef,
    AgentRegistration,
    Balance,
    BalanceAt,
    Cancellation,
    Closure,
    DifConversion,
    DifReserve,
    Identity,
    InaptitudeCredit,
    LowQualification,
    MovementPage,
    Written,
)
from api.services import Services, services
from ledger import errors
from ledger.agent import Receipt
from projections.queries import Principal

router = APIRouter(prefix="/v1/agents", tags=["agents"])
Svc = Annotated[Services, Depends(services)]


@router.post("", status_code=201, response_model=Written, summary="Register an agent (operator)")
def register_agent(
    body: AgentRegistration,
    request: Request,
    principal: Authenticated,
    svc: Svc,
    idempotency_key: IdempotencyKey = None,
) -> object:
    require_operator(principal)
    return idempotent(
        request,
        svc.idempotency,
        principal,
        idempotency_key,
        body.model_dump(),
        lambda: (
            201,
            written(
                svc.ledger.register_agent(
                    body.nir,
                    body.birth_name,
                    body.first_name,
                    body.birth_date,
                    provenance(request, principal, idempotency_key),
                )
            ),
        ),
    )


@router.post(
    "/lookup",
    response_model=AgentRef,
    summary="The agent id of a NIR and birth name (POST: a NIR never goes in a URL)",
)
def lookup_agent(
    body: AgentLookup, request: Request, principal: Authenticated, svc: Svc
) -> AgentRef:
    agent_id = svc.ledger.find_agent(body.nir, body.birth_name).hex
    saw(request, svc, principal, [agent_id])
    return AgentRef(agent_id=agent_id)


@router.get(
    "/{agent_id}/balance",
    response_model=Balance | BalanceAt,
    summary="Balance now, or as of an effective date and as known at a recorded time",
)
def balance(
    agent_id: UUID,
    request: Request,
    principal: Authenticated,
    svc: Svc,
    as_of: Annotated[
        date | None, Query(description="Effective date: movements up to that day")
    ] = None,
    known_at: Annotated[
        datetime | None, Query(description="Only what was recorded by then")
    ] = None,
    min_position: MinPosition = None,
) -> object:
    wait_for_views(svc, min_position)
    result = svc.queries.balance(principal, agent_id.hex, as_of, utc_iso(known_at))
    saw(request, svc, principal, [agent_id.hex])
    return result


@router.get(
    "/{agent_id}/movements",
    response_model=MovementPage,
    summary="Movement history, in log order, paginated by cursor",
)
def movements(
    agent_id: UUID,
    request: Request,
    principal: Authenticated,
    svc: Svc,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    from_date: Annotated[date | None, Query(alias="from")] = None,
    to_date: Annotated[date | None, Query(alias="to")] = None,
    kind: Annotated[str | None, Query(max_length=50)] = None,
    as_of: date | None = None,
    known_at: datetime | None = None,
    min_position: MinPosition = None,
) -> MovementPage:
    wait_for_views(svc, min_position)
    items, next_cursor = svc.queries.movements(
        principal, agent_id.hex, cursor, limit, from_date, to_date, kind, as_of, utc_iso(known_at)
    )
    saw(request, svc, principal, [agent_id.hex])
    return MovementPage.model_validate({"items": items, "next_cursor": next_cursor})


@router.get(
    "/{agent_id}/identity", response_model=Identity, summary="The agent's identity (the NIR masked)"
)
def identity(agent_id: UUID, request: Request, principal: Authenticated, svc: Svc) -> Identity:
    svc.queries.check_visible(principal, agent_id.hex)
    found = svc.ledger.identity(agent_id)
    saw(request, svc, principal, [agent_id.hex])
    return Identity(
        agent_id=agent_id.hex,
        nir_masked=mask_nir(found.nir),
        birth_name=found.birth_name,
        first_name=found.first_name,
        birth_date=found.birth_date,
    )


def _operator_write(
    request: Request,
    principal: Principal,
    svc: Services,
    key: str | None,
    payload: object,
    command: Callable[[], Receipt],
) -> object:
    require_operator(principal)
    return idempotent(
        request, svc.idempotency, principal, key, payload, lambda: (201, written(command()))
    )


@router.post(
    "/{agent_id}/acquisitions",
    status_code=201,
    response_model=Written,
    summary="Record an acquisition line (alimentation) for a year and SIRET (operator)",
)
def acquisition(
    agent_id: UUID,
    body: Acquisition,
    request: Request,
    principal: Authenticated,
    svc: Svc,
    idempotency_key: IdempotencyKey = None,
) -> object:
    return _operator_write(
        request,
        principal,
        svc,
        idempotency_key,
        body.model_dump(),
        lambda: svc.ledger.record_acquisition_line(
            agent_id,
            body.year,
            body.siret,
            Decimal(str(body.hours_worked)),
            provenance(request, principal, idempotency_key),
        ),
    )


@router.post(
    "/{agent_id}/dif-conversion",
    status_code=201,
    response_model=Written,
    summary="Convert the DIF hours held at 31 Dec 2016 (operator)",
)
def dif_conversion(
    agent_id: UUID,
    body: DifConversion,
    request: Request,
    principal: Authenticated,
    svc: Svc,
    idempotency_key: IdempotencyKey = None,
) -> object:
    return _operator_write(
        request,
        principal,
        svc,
        idempotency_key,
        body.model_dump(),
        lambda: svc.ledger.convert_dif(
            agent_id, body.hours, provenance(request, principal, idempotency_key)
        ),
    )


@router.post(
    "/{agent_id}/low-qualification",
    status_code=201,
    response_model=Written,
    summary="Declare category C low qualification from a year (operator)",
)
def low_qualification(
    agent_id: UUID,
    body: LowQualification,
    request: Request,
    principal: Authenticated,
    svc: Svc,
    idempotency_key: IdempotencyKey = None,
) -> object:
    return _operator_write(
        request,
        principal,
        svc,
        idempotency_key,
        body.model_dump(),
        lambda: svc.ledger.declare_low_qualification(
            agent_id,
            body.from_year,
            provenance(request, principal, idempotency_key),
            body.effective_date,
        ),
    )


@router.post(
    "/{agent_id}/inaptitude-credits",
    status_code=201,
    response_model=Written,
    summary="Grant an inaptitude-prevention credit (operator)",
)
def inaptitude_credit(
    agent_id: UUID,
    body: InaptitudeCredit,
    request: Request,
    principal: Authenticated,
    svc: Svc,
    idempotency_key: IdempotencyKey = None,
) -> object:
    return _operator_write(
        request,
        principal,
        svc,
        idempotency_key,
        body.model_dump(),
        lambda: svc.ledger.credit_inaptitude(
            agent_id,
            body.hours,
            provenance(request, principal, idempotency_key),
            body.effective_date,
        ),
    )


@router.post(
    "/{agent_id}/closure",
    status_code=201,
    response_model=Written,
    summary="Close the account at retirement (operator)",
)
def closure(
    agent_id: UUID,
    body: Closure,
    request: Request,
    principal: Authenticated,
    svc: Svc,
    idempotency_key: IdempotencyKey = None,
) -> object:
    return _operator_write(
        request,
        principal,
        svc,
        idempotency_key,
        body.model_dump(),
        lambda: svc.ledger.close_account(
            agent_id,
            body.reason,
            provenance(request, principal, idempotency_key),
            body.effective_date,
        ),
    )


@router.post(
    "/{agent_id}/dif-reserve",
    status_code=201,
    response_model=Written,
    summary="Declare the undeclared-DIF hours an employer keeps (gestion)",
)
def dif_reserve(
    agent_id: UUID,
    body: DifReserve,
    request: Request,
    principal: Authenticated,
    svc: Svc,
    idempotency_key: IdempotencyKey = None,
) -> object:
    require_writer(principal, body.siret)
    svc.queries.check_visible(principal, agent_id.hex)
    return idempotent(
        request,
        svc.idempotency,
        principal,
        idempotency_key,
        body.model_dump(),
        lambda: (
            201,
            written(
                svc.ledger.declare_dif_reserve(
                    agent_id,
                    body.siret,
                    body.hours,
                    provenance(request, principal, idempotency_key),
                )
            ),
        ),
    )


@router.post(
    "/{agent_id}/decrements/{decrement_id}/cancellation",
    status_code=201,
    response_model=Written,
    summary="Cancel a decrement by a compensating movement",
)
def cancel_decrement(
    agent_id: UUID,
    decrement_id: str,
    body: Cancellation,
    request: Request,
    principal: Authenticated,
    svc: Svc,
    idempotency_key: IdempotencyKey = None,
) -> object:
    require_writer(principal, None)
    svc.queries.check_visible(principal, agent_id.hex)
    record = svc.ledger.get_agent(agent_id).decrements.get(decrement_id)
    if record is None:
        raise errors.DecrementNotFound("no such decrement on this agent")
    require_writer(principal, record.siret)
    return idempotent(
        request,
        svc.idempotency,
        principal,
        idempotency_key,
        body.model_dump(),
        lambda: (
            201,
            written(
                svc.ledger.cancel_decrement(
                    agent_id,
                    decrement_id,
                    body.reason,
                    provenance(request, principal, idempotency_key),
                )
            ),
        ),
    )
