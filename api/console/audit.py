"""Auditors (and operators): an agent's history replayed from the events as of an effective date
and as known at a recorded time, beside today's (what changed, and when it was known); the hash
chain verified, with the last signed checkpoint; the read trail (who saw this agent, what did
this person see).

The same functions as ``/v1/audit/*``: replay from the events (not the views), the chain's own
verification, the trail as kept. A verification runs in the background, its progress and result
kept with the console's jobs, so the page can be left and opened again.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import Query, Request, Response

from api.audit.endpoints import chain_verification
from api.auth import ReaderOfEverything, Svc
from api.bootstrap import Services
from api.common import saw, utc_iso
from api.console.agents import person
from api.console.web import console_router, is_htmx, render, see_other
from api.problems import ApiProblem
from ledger.audit import Checkpoint, check_checkpoint, make_checkpoint, private_key, replay_agent
from ledger.domain import errors

router = console_router()
TRAIL_LINES = 500


@router.get("/audit")
def audit_home(request: Request, principal: ReaderOfEverything, svc: Svc) -> Response:
    context = {
        "verification": svc.jobs.recent("verification", None, 1),
        "points": svc.checkpoints.all()[-1:],
    }
    return render(request, "audit.html", context)


def _moment(value: str | None) -> datetime | None:
    """A recorded time typed in a form (``YYYY-MM-DDTHH:MM``, UTC), as the replay takes it."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise errors.InvalidInput("connu: not a date and time") from None
    text = utc_iso(moment)
    return datetime.fromisoformat(text) if text else None


def _history(replayed: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            **m,
            "channel": (m.get("provenance") or {}).get("channel"),
            "principal": (m.get("provenance") or {}).get("principal"),
            "source": (m.get("provenance") or {}).get("source"),
        }
        for m in replayed["movements"]
    ]


@router.get("/audit/agents/{agent_id}")
def replay(
    agent_id: UUID,
    request: Request,
    principal: ReaderOfEverything,
    svc: Svc,
    effet: date | None = None,
    connu: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """The agent's history replayed from its events as of ``effet`` and as known at ``connu``,
    beside today's: the movements the past reading does not hold are marked with when they were
    recorded."""
    known_at = _moment(connu)
    # Today's as known now: in effective-date order with its running balance, like the past one
    today = replay_agent(svc.ledger, agent_id, None, datetime.now(UTC))
    if not today["movements"]:
        raise errors.AgentNotFound("no such agent")
    then = replay_agent(svc.ledger, agent_id, effet, known_at) if effet or known_at else None
    views = svc.queries.balance(principal, agent_id.hex)
    saw(request, svc, principal, [agent_id.hex])
    held = {m["position"] for m in then["movements"]} if then else set()
    context = {
        "agent_id": agent_id.hex,
        "personne": person(svc, agent_id.hex),
        "effet": effet,
        "connu": connu or "",
        "aujourdhui": {**today, "movements": _history(today)},
        "alors": {**then, "movements": _history(then)} if then else None,
        "absents": {m["position"] for m in today["movements"]} - held if then else set(),
        "vues": views,
        "ecart": (views["balance"], views["reserve"]) != (today["balance"], today["reserve"]),
    }
    return render(request, "audit_agent.html", context)


def _last_checkpoint(svc: Services) -> dict[str, Any] | None:
    """The last signed checkpoint, and whether the log still extends it."""
    kept = svc.checkpoints.all()
    if not kept:
        return None
    last = kept[-1]
    trusted = svc.settings.trusted_checkpoint_key
    problem = (
        check_checkpoint(svc.ledger.recorder, Checkpoint(**last), trusted)
        if trusted
        else "aucune clé publique de confiance n'est configurée (LEDGER_AUDIT_TRUSTED_KEY)"
    )
    return {**last, "probleme": problem, "compte": len(kept)}


@router.get("/audit/verification")
def verification_page(
    request: Request,
    principal: ReaderOfEverything,
    svc: Svc,
    fait: Annotated[str | None, Query(max_length=30)] = None,
) -> Response:
    jobs = svc.jobs.recent("verification", None, 1)
    context = {
        "travail": jobs[0] if jobs else None,
        "point": _last_checkpoint(svc),
        "tete": svc.ledger.recorder.max_notification_id() or 0,
        "fait": fait,
    }
    template = "fragments/verification.html" if is_htmx(request) else "verification.html"
    return render(request, template, context)


@router.post("/audit/verification")
def start_verification(request: Request, principal: ReaderOfEverything, svc: Svc) -> Response:
    """Verify the whole chain in the background (its progress on the page, which may be left)."""
    if svc.background.running("verification"):
        return see_other("/audit/verification")
    head = svc.ledger.recorder.max_notification_id() or 0
    job = svc.jobs.start(
        "verification", "chain", "audit", principal.label, "chaîne", {"head": head}
    )

    def work() -> None:
        def progress(position: int) -> None:
            svc.jobs.update(job.job_id, {"head": head, "position": position})

        try:
            result = chain_verification(svc, progress)
            svc.jobs.update(job.job_id, {"head": head, "position": head}, "finished", result)
        except Exception:
            svc.jobs.update(job.job_id, status="failed")
            raise

    svc.background.start("verification", work)
    return see_other("/audit/verification")


@router.post("/audit/points-de-controle")
def take_checkpoint(request: Request, principal: ReaderOfEverything, svc: Svc) -> Response:
    """Sign the chain's head (after verifying it), as ``POST /v1/audit/checkpoints``."""
    try:
        checkpoint = make_checkpoint(
            svc.ledger.recorder, private_key(svc.ledger.settings.checkpoint_signing_seed)
        )
    except ValueError as error:
        raise ApiProblem(409, "chain_broken", str(error)) from None
    svc.checkpoints.add(asdict(checkpoint))
    return see_other("/audit/verification?fait=point")


@router.get("/audit/trace")
def trail(
    request: Request,
    principal: ReaderOfEverything,
    svc: Svc,
    agent: Annotated[str, Query(max_length=40)] = "",
    qui: Annotated[str, Query(max_length=200)] = "",
    apres: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> Response:
    """Who saw this agent, or what this person (or key) saw: the read trail as kept."""
    try:
        agent_id = UUID(agent.strip()).hex if agent.strip() else None
    except ValueError:
        raise errors.InvalidInput("agent: not an agent id") from None
    lines = (
        svc.trail.query(agent_id, qui.strip() or None, apres, TRAIL_LINES)
        if agent_id or qui.strip()
        else []
    )
    context = {
        "agent": agent_id or "",
        "qui": qui.strip(),
        "lignes": lines,
        "suivant": lines[-1]["id"] if len(lines) == TRAIL_LINES else None,
    }
    return render(request, "trace.html", context)
