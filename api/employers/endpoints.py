"""Employers' views: the agents of a SIRET for the yearly extraction scope, and their movements."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from api.agents.schemas import BalancePage, MovementPage
from api.auth import Authenticated, Svc
from api.common import saw, trailed
from api.exports import AGENT_LIST, XLSX_TYPE, export_response
from api.files.schemas import CSV_AND_XLSX
from ledger.domain.identifiers import Siret

router = APIRouter(prefix="/v1/employers", tags=["employers"])


def _format(requested: str | None, request: Request) -> str:
    if requested:
        return requested
    accept = request.headers.get("accept", "")
    if XLSX_TYPE in accept:
        return "xlsx"
    if "text/csv" in accept:
        return "csv"
    return "json"


@router.get(
    "/{siret}/agents",
    response_model=BalancePage,
    summary="Agents with an acquisition line for this SIRET in a year, with their balances",
    description="JSON pages by default; `format=csv` (`;`, UTF-8 BOM) or `format=xlsx`, or the "
    "matching `Accept` header, streams the whole scope.",
    responses={200: {"content": CSV_AND_XLSX}},
)
def employer_agents(
    siret: str,
    request: Request,
    principal: Authenticated,
    svc: Svc,
    year: Annotated[
        int, Query(ge=2017, le=2100, description="Acquisition year (N-1 by default)")
    ] = date.today().year - 1,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    format: Literal["json", "csv", "xlsx"] | None = None,
) -> object:
    value = Siret.parse(siret).value
    year = year or date.today().year - 1
    fmt = _format(format, request)
    if fmt != "json":
        rows = svc.queries.iter_employer_agents(principal, value, year)
        return export_response(
            fmt, f"cpf-{value}-{year}", AGENT_LIST, trailed(request, svc, principal, rows)
        )
    items, next_cursor = svc.queries.employer_agents(principal, value, year, cursor, limit)
    saw(request, svc, principal, [item["agent_id"] for item in items])
    return BalancePage.model_validate({"items": items, "next_cursor": next_cursor})


@router.get(
    "/{siret}/movements",
    response_model=MovementPage,
    summary="Movements of the agents in this SIRET's scope, in log order",
)
def employer_movements(
    siret: str,
    request: Request,
    principal: Authenticated,
    svc: Svc,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    from_date: Annotated[date | None, Query(alias="from")] = None,
    to_date: Annotated[date | None, Query(alias="to")] = None,
) -> MovementPage:
    items, next_cursor = svc.queries.employer_movements(
        principal, Siret.parse(siret).value, cursor, limit, from_date, to_date
    )
    saw(request, svc, principal, [item["agent_id"] for item in items])
    return MovementPage.model_validate({"items": items, "next_cursor": next_cursor})
