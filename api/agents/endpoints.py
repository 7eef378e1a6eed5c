"""Agents: registration, look-up by NIR (POST, never in a URL), balances, histories, and the
movements recorded on an agent (the operators' from one table, the employers' reserve and
cancellation)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from api.agents.schemas import (
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
)
from api.auth import Authenticated, OperatorOnly, Svc, Writer
from api.common import (
    MinPosition,
    execute,
    mask_nir,
    saw,
    utc_iso,
    wait_for_views,
)
from api.idempotency import IdempotencyKey
from api.schemas import Written
from ledger.domain.identifiers import Siret
from projections import scope

router = APIRouter(prefix="/v1/agents", tags=["agents"])


@router.post("", status_code=201, response_model=Written, summary="Register an agent (operator)")
def register_agent(
    body: AgentRegistration,
    request: Request,
    principal: OperatorOnly,
    svc: Svc,
    idempotency_key: IdempotencyKey = None,
) -> object:
    return execute(
        request,
        svc,
        principal,
        idempotency_key,
        body,
        lambda where: body.to_command(svc.ledger.id_key, where),
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
    svc.queries.check_visible(principal, agent_id)
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


# The operators' movements: one route each, built from this table (path, body, summary).
OPERATOR_MOVEMENTS: tuple[tuple[str, type[BaseModel], str], ...] = (
    (
        "acquisitions",
        Acquisition,
        "Record an acquisition line (alimentation) for a year and SIRET (operator)",
    ),
    ("dif-conversion", DifConversion, "Convert the DIF hours held at 31 Dec 2016 (operator)"),
    (
        "low-qualification",
        LowQualification,
        "Declare category C low qualification from a year (operator)",
    ),
    ("inaptitude-credits", InaptitudeCredit, "Grant an inaptitude-prevention credit (operator)"),
    ("closure", Closure, "Close the account at retirement (operator)"),
)


def _operator_movement(path: str, schema: type[BaseModel], summary: str) -> None:
    def record(
        agent_id: UUID,
        body: Any,
        request: Request,
        principal: OperatorOnly,
        svc: Svc,
        idempotency_key: IdempotencyKey = None,
    ) -> object:
        return execute(
            request,
            svc,
            principal,
            idempotency_key,
            body,
            lambda where: body.to_command(agent_id, where),
        )

    record.__annotations__["body"] = schema
    record.__name__ = record.__qualname__ = path.replace("-", "_")
    router.post(f"/{{agent_id}}/{path}", status_code=201, response_model=Written, summary=summary)(
        record
    )


for _path, _schema, _summary in OPERATOR_MOVEMENTS:
    _operator_movement(_path, _schema, _summary)


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
    principal: Writer,
    svc: Svc,
    idempotency_key: IdempotencyKey = None,
) -> object:
    scope.require_writer_for(principal, Siret.parse(body.siret).value)
    return execute(
        request,
        svc,
        principal,
        idempotency_key,
        body,
        lambda where: body.to_command(agent_id, where),
        scope.agent_guard(principal),
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
    principal: Writer,
    svc: Svc,
    idempotency_key: IdempotencyKey = None,
) -> object:
    return execute(
        request,
        svc,
        principal,
        idempotency_key,
        body,
        lambda where: body.to_command(agent_id, decrement_id, where),
        scope.cancellation_guard(principal, decrement_id),
    )
