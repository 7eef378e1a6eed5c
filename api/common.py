"""Helpers shared by the routes: provenance of a request, receipts as responses, read-your-writes,
and the read trail."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api import observability
from api.bootstrap import Services
from api.idempotency import idempotent
from api.problems import ApiProblem
from ledger.application import Guard
from ledger.commands import Command
from ledger.domain.access import Principal
from ledger.domain.errors import InvalidInput
from ledger.domain.movements import Receipt
from ledger.domain.provenance import Channel, Provenance

MinPosition = Annotated[
    int | None,
    Query(
        ge=0,
        le=2**62,
        description="Wait (up to 5 s) until the views include this log position: pass "
        "the `position` a write returned to read your own write",
    ),
]


def request_id(request: Request) -> str:
    """The request's id: the caller's X-Request-ID when usable, else one made at the edge."""
    current = observability.request_id.get()
    return current if current != "-" else uuid.uuid4().hex


def provenance(request: Request, principal: Principal, key: str | None) -> Provenance:
    """Where a write comes from: the principal, the API, the request, the idempotency key."""
    return Provenance(
        principal=principal.label,
        channel=Channel.API,
        source=f"request:{request_id(request)}",
        idempotency_key=f"{principal.label}:{key}" if key else None,
    )


CREDITS = frozenset(
    {"AcquisitionLineRecorded", "DifConverted", "YearRegularised", "InaptitudeCredited"}
)
USES = frozenset({"Decremented", "DecrementCancelled"})


def written(receipt: Receipt) -> dict[str, Any]:
    """What a write did: its movement, where the hours went, and the balance after."""
    use = receipt.kind in USES
    return {
        "agent_id": receipt.agent_id.hex,
        "kind": receipt.kind,
        "effective_date": receipt.effective_date.isoformat() if receipt.effective_date else None,
        "hours": receipt.hours,
        "reserve_hours": receipt.reserve_hours,
        "credited": receipt.hours if receipt.kind in CREDITS else None,
        "requested": receipt.requested,
        "from_reserve": -receipt.reserve_hours if use else None,
        "from_counter": -receipt.hours if use else None,
        "balance_after": receipt.balance_after,
        "reserve_after": receipt.reserve_after,
        "decrement_id": receipt.decrement_id,
        "replayed": receipt.replayed,
        "position": receipt.position,
    }


def head_position(svc: Services) -> int:
    return svc.ledger.recorder.max_notification_id() or 0


def wait_for_views(svc: Services, position: int | None) -> None:
    """Read-your-writes: block until the views include ``position``; 503 if they lag behind."""
    if position is not None and position > head_position(svc):
        raise ApiProblem(422, "unknown_position", "min_position is beyond the end of the log")
    if position is not None and not svc.projector.wait_for(position, timeout=5.0):
        raise ApiProblem(
            503,
            "views_behind",
            "the views have not caught up yet; retry shortly",
            {"Retry-After": "1"},
        )


def utc_iso(moment: datetime | None) -> str | None:
    """A time as the views store it (ISO 8601, UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC).isoformat()
    except OverflowError:
        raise InvalidInput("this time is out of range") from None


def mask_nir(nir: str) -> str:
    """Enough of a NIR to recognise it, never the NIR itself: no response carries a NIR."""
    return nir[0] + "*" * 10 + nir[-4:]


def saw(request: Request, svc: Services, principal: Principal, agent_ids: Iterable[str]) -> None:
    """Keep in the read trail that ``principal`` saw these agents through this route."""
    route = request.scope.get("route")
    via = f"{request.method} {getattr(route, 'path', request.url.path)}"
    svc.trail.record(principal.label, via, agent_ids)


def trailed(
    request: Request, svc: Services, principal: Principal, rows: Iterable[dict[str, Any]]
) -> Iterator[dict[str, Any]]:
    """Pass streamed export rows through, keeping each agent they show in the read trail."""
    noted: set[str] = set()
    for row in rows:
        agent_id = row.get("agent_id")
        if agent_id and agent_id not in noted:
            noted.add(agent_id)
            saw(request, svc, principal, [agent_id])
        yield row


def execute(
    request: Request,
    svc: Services,
    principal: Principal,
    key: str | None,
    body: BaseModel,
    command: Callable[[Provenance], Command],
    guard: Guard | None = None,
) -> JSONResponse:
    """Run the command a request body builds, once per Idempotency-Key; 201 with what it did."""
    where = provenance(request, principal, key)
    return idempotent(
        request,
        svc.idempotency,
        principal,
        key,
        body.model_dump(mode="json"),
        lambda: (201, written(svc.ledger.execute(command(where), guard))),
    )
