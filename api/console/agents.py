"""The employer's dashboard (tableau de bord) and the agent page: the screen employers lost.

The dashboard lists the agents of an establishment for a year (the yearly extraction's scope),
page by page, with their names, counters, reserves and status; an agent is found by name among
them, or by NIR and birth name in a posted form (never in a URL). The agent page draws the
counter over time and lists its movements with their provenance, now or as of a date. Every
read goes through the queries (and so the scope module) and leaves its line in the read trail.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import Form, Query, Request, Response

from api.agents.schemas import AgentLookup, Cancellation
from api.auth import Authenticated, Svc, Writer
from api.bootstrap import Services
from api.common import mask_nir, saw, wait_for_views
from api.console import charts
from api.console.web import console_router, is_htmx, render, see_other
from api.console.writes import body, console_provenance
from ledger.domain import errors
from ledger.domain.identifiers import Siret
from ledger.domain.movements import fold_name
from projections import scope
from projections.queries import MAX_PAGE

router = console_router()
PAGE = 50
MATCHES = 100
"""A search by name shows at most this many agents (narrow it down beyond)."""
Year = Annotated[int | None, Query(ge=2017, le=2100)]


def person(svc: Services, agent_id: str) -> dict[str, str] | None:
    """What the console shows of an agent's identity (the NIR masked); None when it cannot be
    read (its key was dropped: crypto-shredded)."""
    try:
        found = svc.ledger.identity(UUID(agent_id))
    except errors.DomainError:
        return None
    return {
        "birth_name": found.birth_name,
        "first_name": found.first_name,
        "birth_date": found.birth_date.isoformat(),
        "nir_masked": mask_nir(found.nir),
    }


def people(svc: Services, agent_ids: Iterable[str]) -> dict[str, dict[str, str] | None]:
    return {agent_id: person(svc, agent_id) for agent_id in agent_ids}


def _dashboard(
    request: Request,
    svc: Services,
    siret: str | None,
    year: int,
    rows: list[dict[str, Any]] | None,
    next_cursor: str | None,
    search: str = "",
    status: int = 200,
) -> Response:
    context = {
        "siret": siret,
        "annee": year,
        "annees": list(range(date.today().year, 2016, -1)),
        "agents": rows,
        "suivant": next_cursor,
        "recherche": search,
        "plafond_recherche": MATCHES,
    }
    template = "fragments/agents.html" if is_htmx(request) else "tableau.html"
    return render(request, template, context, status)


@router.get("/tableau-de-bord")
def dashboard(
    request: Request,
    principal: Authenticated,
    svc: Svc,
    siret: Annotated[str | None, Query(max_length=20)] = None,
    annee: Year = None,
    curseur: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    chosen = scope.console_siret(principal, Siret.parse(siret).value if siret else None)
    year = annee or date.today().year - 1
    if chosen is None:  # operators and auditors: a SIRET to type, or an agent to look up
        return _dashboard(request, svc, None, year, None, None)
    items, next_cursor = svc.queries.employer_agents(principal, chosen, year, curseur, PAGE)
    names = people(svc, (item["agent_id"] for item in items))
    saw(request, svc, principal, names)
    rows = [{**item, "personne": names[item["agent_id"]]} for item in items]
    return _dashboard(request, svc, chosen, year, rows, next_cursor)


@router.post("/tableau-de-bord/recherche")
def search_by_name(
    request: Request,
    principal: Authenticated,
    svc: Svc,
    siret: Annotated[str, Form(max_length=20)],
    annee: Annotated[int, Form(ge=2017, le=2100)],
    nom: Annotated[str, Form(min_length=1, max_length=100)],
) -> Response:
    """The agents of the establishment's year whose birth name or first name contains what was
    typed (accents and case aside); posted, so a name never sits in a URL."""
    chosen = scope.console_siret(principal, Siret.parse(siret).value)
    assert chosen is not None
    wanted = fold_name(nom)
    found: list[dict[str, Any]] = []
    for item in svc.queries.iter_employer_agents(principal, chosen, annee):
        who = person(svc, item["agent_id"])
        if who and (
            wanted in fold_name(who["birth_name"]) or wanted in fold_name(who["first_name"])
        ):
            found.append({**item, "personne": who})
            if len(found) >= MATCHES:
                break
    saw(request, svc, principal, (row["agent_id"] for row in found))
    return _dashboard(request, svc, chosen, annee, found, None, search=nom)


@router.post("/agents/recherche")
def look_up(
    request: Request,
    principal: Authenticated,
    svc: Svc,
    nir: Annotated[str, Form(max_length=30)],
    birth_name: Annotated[str, Form(max_length=100)],
    vers: Annotated[str, Form(pattern="^(agent|audit)$")] = "agent",
) -> Response:
    """An agent by NIR and birth name (posted: the NIR never goes in a URL), as the API's
    look-up: out of scope is not found."""
    lookup = body(AgentLookup, nir=nir, birth_name=birth_name)
    agent_id = svc.ledger.find_agent(lookup.nir, lookup.birth_name).hex
    svc.queries.check_visible(principal, agent_id)
    saw(request, svc, principal, [agent_id])
    target = f"/audit/agents/{agent_id}" if vers == "audit" else f"/agents/{agent_id}"
    if is_htmx(request):  # a fetch follows a 303 itself: htmx is told where to go instead
        return Response(status_code=200, headers={"HX-Redirect": target})
    return see_other(target)


def history(
    svc: Services, principal: Any, agent_id: str, as_of: date | None
) -> list[dict[str, Any]]:
    """The agent's whole history in effective-date order, each movement with the running
    balance of the list: as of ``as_of``, or as known now (future trainings included)."""
    known_at = None if as_of else datetime.now(UTC).isoformat()
    movements: list[dict[str, Any]] = []
    cursor = None
    while True:
        items, cursor = svc.queries.movements(
            principal, agent_id, cursor, MAX_PAGE, as_of=as_of, known_at=known_at
        )
        movements += items
        if cursor is None:
            return movements


def cancelled_ids(movements: list[dict[str, Any]]) -> set[str]:
    return {
        str(m["details"].get("decrement_id"))
        for m in movements
        if m["kind"] == "DecrementCancelled"
    }


@router.get("/agents/{agent_id}")
def agent_page(
    agent_id: UUID,
    request: Request,
    principal: Authenticated,
    svc: Svc,
    au: date | None = None,
    apres: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    fait: Annotated[str | None, Query(max_length=30)] = None,
) -> Response:
    wait_for_views(svc, apres)  # after a write made from the console: show it
    hex_id = agent_id.hex
    balance = svc.queries.balance(principal, hex_id, au, None)  # scope: 404 out of it
    movements = history(svc, principal, hex_id, au)
    who = person(svc, hex_id)
    saw(request, svc, principal, [hex_id])
    end = au or date.today()
    cancelled = cancelled_ids(movements)
    rows = [
        {
            **m,
            "resume": charts.movement_summary(m),
            "annulable": m["kind"] == "Decremented"
            and str(m["details"].get("decrement_id")) not in cancelled
            and scope.may_record_for(principal, m.get("siret")),
        }
        for m in movements
    ]
    context = {
        "agent_id": hex_id,
        "personne": who,
        "solde": balance,
        "mouvements": rows,
        "courbe": charts.curve(movements, end),
        "au": au,
        "fait": fait,
    }
    return render(request, "agent.html", context)


@router.post("/agents/{agent_id}/decrementations/{decrement_id}/annulation")
def cancel_decrement(
    agent_id: UUID,
    decrement_id: str,
    request: Request,
    principal: Writer,
    svc: Svc,
    reason: Annotated[str, Form(max_length=500)] = "",
    idempotency_key: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Cancel a decrement by its compensating movement (the API's command and guard)."""
    cancellation = body(Cancellation, reason=reason)
    receipt = svc.ledger.execute(
        cancellation.to_command(
            agent_id, decrement_id, console_provenance(request, principal, idempotency_key)
        ),
        scope.cancellation_guard(principal, decrement_id),
    )
    return see_other(f"/agents/{agent_id.hex}?apres={receipt.position or 0}&fait=annulation")
