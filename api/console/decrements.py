"""Decrements (décrémentations): one entered in a form, with its split between the SIRET's
reserve and the counter shown before it is recorded; or a whole file deposited, applied in the
background, its per-line report read as a filterable table (or downloaded as CSV).

The form builds the API's own request body and command; a preview runs that command on the
agent as it stands, in memory, and records nothing. A deposit is the API's deposit, in a
background job whose progress any API process can show: the page can be closed and opened again.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Annotated, Any

from fastapi import File, Form, Query, Request, Response, UploadFile
from pydantic import BaseModel, Field

from api.auth import Authenticated, Svc, Writer
from api.bootstrap import Services
from api.common import saw
from api.console.jobs import Job
from api.console.messages import explain, reason
from api.console.web import console_router, is_htmx, render, see_other
from api.console.writes import body, console_provenance
from api.decrements.schemas import DecrementRequest
from api.observability import BULK_LINES
from api.problems import status_of
from ledger.domain import errors
from ledger.domain.access import Principal
from ledger.domain.file_runs import DecrementFile, deposit_id
from ledger.domain.identifiers import Siret
from ledger.files.deposits import DepositReport, deposit_file
from ledger.files.reading import file_digest
from projections import scope

router = console_router()
SHOWN_LINES = 500
"""A report shows at most this many lines of a filter (the CSV has them all)."""


class DecrementForm(BaseModel):
    """The decrement form's fields as typed; ``request()`` checks them as the API's body."""

    nir: str = Field("", max_length=30)
    birth_name: str = Field("", max_length=200)
    siret: str = Field("", max_length=20)
    hours: str = Field("", max_length=10)
    days: str = Field("", max_length=10)
    title: str = Field("", max_length=200)
    start: str = Field("", max_length=10)
    end: str = Field("", max_length=10)
    reference: str = Field("", max_length=200)
    anticipated: str = Field("", max_length=3)
    idempotency_key: str = Field("", max_length=100)

    def fields(self) -> dict[str, Any]:
        """The API's decrement body (hours or days, whichever was filled)."""
        return {
            "nir": self.nir,
            "birth_name": self.birth_name,
            "siret": self.siret,
            "hours": self.hours.strip() or None,
            "days": self.days.strip().replace(",", ".") or None,
            "training": {
                "title": self.title,
                "start": self.start,
                "end": self.end,
                "reference": self.reference,
            },
            "anticipated": self.anticipated == "oui",
        }

    def request(self) -> DecrementRequest:
        checked: DecrementRequest = body(DecrementRequest, **self.fields())
        return checked


def _page(
    request: Request,
    svc: Services,
    principal: Principal,
    form: dict[str, Any] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    owner = _owner(principal)
    context = {
        "form": form or {},
        "erreur": error,
        "depots": svc.jobs.recent("deposit", None if owner is None else [owner]),
        "etablissements": scope.console_abilities(principal).establishments,
    }
    return render(request, "decrementations.html", context, status)


def _owner(principal: Principal) -> str | None:
    """Whose deposits a list shows (None: every one, for those who read everything)."""
    readable = scope.readable_sirets(principal)
    return None if readable is None else scope.deposit_owner(principal)[0]


@router.get("/decrementations")
def decrements_page(request: Request, principal: Writer, svc: Svc) -> Response:
    return _page(request, svc, principal)


@router.post("/decrementations/apercu")
def preview(
    request: Request,
    principal: Writer,
    svc: Svc,
    form: Annotated[DecrementForm, Form()],
) -> Response:
    """What the decrement would do, before it is recorded: the hours, and, for an agent the
    caller may see, the split between the SIRET's reserve and the counter and the balance
    after (the agent's own rules, run in memory: nothing is recorded)."""
    context: dict[str, Any] = {"apercu": None, "refus": None, "heures": None}
    try:
        decrement = form.request()
        value = Siret.parse(decrement.siret).value
        scope.require_writer_for(principal, value)
        svc.access.establishment(value)
        agent_id = svc.ledger.find_agent(decrement.nir, decrement.birth_name)
        agent = svc.ledger.get_agent(agent_id)
        command = decrement.to_command(agent_id, console_provenance(request, principal, None))
        context["heures"] = command.hours
        if not scope.sees_agent(principal, agent):
            context["hors_perimetre"] = True  # no figure of an agent the caller may not see
        else:
            saw(request, svc, principal, [agent_id.hex])
            try:
                context["apercu"] = command.execute(agent)  # in memory: never saved
            except errors.DomainError as refused:
                context["refus"] = explain(refused.code, refused.details, 409)
    except errors.DomainError as refused:
        context["refus"] = explain(refused.code, refused.details, 422)
    return render(request, "fragments/apercu.html", context)


@router.post("/decrementations")
def record(
    request: Request,
    principal: Writer,
    svc: Svc,
    form: Annotated[DecrementForm, Form()],
) -> Response:
    """Record the decrement as ``POST /v1/decrements`` does (the same checks, command and
    guard), then show the agent with it."""
    sees: list[bool] = []
    try:
        decrement = form.request()
        value = Siret.parse(decrement.siret).value
        scope.require_writer_for(principal, value)
        svc.access.establishment(value)
        where = console_provenance(request, principal, form.idempotency_key)
        receipt = svc.ledger.execute(
            decrement.to_command(svc.ledger.find_agent(decrement.nir, decrement.birth_name), where),
            lambda agent: sees.append(scope.sees_agent(principal, agent)),
        )
    except errors.DomainError as refused:
        if sees and not sees[0]:
            refused.details = {}  # why, without figures the caller may not see
        status = status_of(refused)
        kept = {**form.fields(), "nir": "", "idempotency_key": form.idempotency_key}  # no NIR
        text = explain(refused.code, refused.details, status)
        return _page(request, svc, principal, kept, text, status)
    return see_other(
        f"/agents/{receipt.agent_id.hex}?apres={receipt.position or 0}&fait=decrementation"
    )


# ------------------------------------------------------------------ files


@router.post("/decrementations/fichiers")
async def deposit(
    request: Request,
    principal: Writer,
    svc: Svc,
    fichier: Annotated[UploadFile, File()],
) -> Response:
    """Deposit a decrement file: applied in the background (a large file takes a while), its
    progress and report on the deposit's page."""
    owner, sirets = scope.deposit_owner(principal)
    directory = tempfile.mkdtemp(prefix="cpf-depot-")
    path = Path(directory) / "depot"
    size = 0
    with path.open("wb") as out:
        while block := await fichier.read(1 << 16):
            size += len(block)
            out.write(block)
    if size == 0:
        shutil.rmtree(directory, ignore_errors=True)
        raise errors.InvalidInput("the file is empty")
    digest = file_digest(path)
    found = deposit_id(owner, digest)
    name = (fichier.filename or "decrementations.csv")[:200]
    job = svc.jobs.start("deposit", found.hex, owner, principal.label, name, {"size": size})

    def work() -> None:
        def progress(offset: int, lines: int) -> None:
            svc.jobs.update(job.job_id, {"size": size, "bytes": offset, "lines": lines})

        try:
            result = deposit_file(
                svc.ledger, path, name, principal.label, owner, sirets, progress=progress
            )
            summary = result.summary()
            for status in ("applied", "rejected"):
                BULK_LINES.labels("decrement_file", status).inc(summary.get(status, 0))
            svc.jobs.update(job.job_id, {"size": size, "bytes": size}, status="finished")
        except errors.DomainError as refused:
            failure = {"code": refused.code, "message": reason(refused.code, refused.message)}
            svc.jobs.update(job.job_id, status="failed", result=failure)
        except Exception:
            svc.jobs.update(job.job_id, status="failed", result={"code": "internal_error"})
            raise
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    svc.background.start(f"deposit-{job.job_id}", work)
    return see_other(f"/decrementations/fichiers/{found.hex}")


def _deposit(
    svc: Services, principal: Principal, deposit: uuid.UUID
) -> tuple[DecrementFile | None, Job | None]:
    """The deposit and its last console job, when the principal owns them (else 404, as
    unknown). A file refused before its deposit began (a bad header) has only its job."""
    missing = errors.DepositNotFound("no such deposit")
    try:
        found: DecrementFile | None = svc.ledger.aggregate(deposit, DecrementFile, missing)
    except errors.DepositNotFound:
        found = None
    job = svc.jobs.latest("deposit", deposit.hex)  # its id names its owner: one owner per id
    owner = found.scope if found is not None else (job.owner if job is not None else None)
    if owner is None or not scope.owns_document(principal, owner):
        raise missing
    return found, job


@router.get("/decrementations/fichiers/{deposit_id}")
def deposit_page(
    deposit_id: uuid.UUID,
    request: Request,
    principal: Authenticated,
    svc: Svc,
    statut: Annotated[str, Query(pattern="^(tous|applied|rejected)$")] = "tous",
    code: Annotated[str, Query(max_length=60)] = "",
) -> Response:
    """A deposit: its progress while it runs, then its report (filtered by outcome and code)."""
    found, job = _deposit(svc, principal, deposit_id)
    lines: list[dict[str, Any]] = []
    codes: set[str] = set()
    more = False
    if found is not None and found.completed:
        report = DepositReport(svc.ledger, found)
        for line in report.iter_lines():
            if line.get("code"):
                codes.add(str(line["code"]))
            if statut != "tous" and line["status"] != statut:
                continue
            if code and line.get("code") != code:
                continue
            if len(lines) >= SHOWN_LINES:
                more = True
                continue
            lines.append(line)
        saw(request, svc, principal, (str(x["agent_id"]) for x in lines if x.get("agent_id")))
    context = {
        "depot": found,
        "travail": job,
        "etat": _state(found, job),
        "lignes": lines,
        "codes": sorted(codes),
        "statut": statut,
        "code": code,
        "plus": more,
        "id": deposit_id.hex,
    }
    template = "fragments/depot.html" if is_htmx(request) else "depot.html"
    return render(request, template, context)


def _state(found: DecrementFile | None, job: Job | None) -> str:
    if found is not None and found.completed:
        return "finished"
    return "interrupted" if job is None else job.current_status()
