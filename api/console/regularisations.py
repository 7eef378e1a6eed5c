"""Regularisation requests: an employer's form with the attestation's fields and the scan of the
signed attestation, the list of its SIRETs' requests; the CDC's queue, where an operator sees the
scan and approves or rejects.

The same service calls as ``/v1/regularisations`` (the same body, scope and guard); the scan is
checked on its content, kept by its digest beside the views, and the request's attestation
records that digest, so the scan shown is proven to be the one that was sent.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import File, Form, Query, Request, Response, UploadFile

from api.auth import Authenticated, OperatorOnly, Svc, Writer
from api.bootstrap import Services
from api.common import saw, wait_for_views
from api.console.agents import people, person
from api.console.messages import explain
from api.console.web import console_router, render, see_other
from api.console.writes import body, console_provenance, once
from api.problems import status_of
from api.regularisations.endpoints import request_summary, visible_request
from api.regularisations.schemas import RegularisationRejection, RegularisationSubmission
from ledger.domain import errors
from ledger.domain.access import Principal
from ledger.domain.identifiers import Siret
from ledger.domain.scans import MAX_SCAN_BYTES, ScanRef
from projections import scope

router = console_router()
PAGE = 50
STATUSES = {"submitted": "en attente", "approved": "approuvée", "rejected": "rejetée"}
Text = Annotated[str, Form(max_length=200)]


@router.get("/regularisations")
def requests_page(
    request: Request,
    principal: Authenticated,
    svc: Svc,
    statut: Annotated[str | None, Query(pattern="^(submitted|approved|rejected|tous)$")] = None,
    curseur: Annotated[str | None, Query(max_length=100)] = None,
    fait: Annotated[str | None, Query(max_length=30)] = None,
) -> Response:
    """The requests the principal may read (an employer's SIRETs'; all of them for the CDC),
    the queue of those waiting first for operators."""
    can = scope.console_abilities(principal)
    wanted = statut or ("submitted" if can.operates else "tous")
    items, next_cursor = svc.queries.regularisations(
        principal, None if wanted == "tous" else wanted, curseur, PAGE
    )
    names = people(svc, dict.fromkeys(str(item["agent_id"]) for item in items))
    saw(request, svc, principal, names)
    context = {
        "demandes": [{**item, "personne": names[str(item["agent_id"])]} for item in items],
        "statut": wanted,
        "statuts": STATUSES,
        "suivant": next_cursor,
        "fait": fait,
    }
    return render(request, "regularisations.html", context)


@router.get("/regularisations/nouvelle")
def new_request(
    request: Request,
    principal: Writer,
    svc: Svc,
    agent: UUID | None = None,
) -> Response:
    return _form(request, svc, principal, {"agent_id": agent.hex if agent else ""})


def _form(
    request: Request,
    svc: Services,
    principal: Principal,
    form: dict[str, Any],
    error: str | None = None,
    status: int = 200,
) -> Response:
    who = None
    if form.get("agent_id"):
        try:
            svc.queries.check_visible(principal, form["agent_id"])  # out of scope: not found
        except errors.AgentNotFound:
            if error is None:
                raise
            form = {**form, "agent_id": ""}  # a refused form: shown again, without the agent
        else:
            who = person(svc, form["agent_id"])
            saw(request, svc, principal, [form["agent_id"]])
    context = {
        "form": form,
        "personne": who,
        "erreur": error,
        "etablissements": scope.console_abilities(principal).establishments,
        "taille_max": MAX_SCAN_BYTES // (1024 * 1024),
    }
    return render(request, "regularisation_nouvelle.html", context, status)


@router.post("/regularisations")
async def submit(
    request: Request,
    principal: Writer,
    svc: Svc,
    scan: Annotated[UploadFile, File()],
    siret: Text,
    year: Annotated[str, Form(max_length=4)],
    hours: Annotated[str, Form(max_length=6)],
    signatory: Text,
    signature_date: Annotated[str, Form(max_length=10)],
    agent_id: Annotated[str, Form(max_length=40)] = "",
    nir: Annotated[str, Form(max_length=30)] = "",
    birth_name: Text = "",
    stamp_present: Annotated[str, Form(max_length=3)] = "",
    reason: Annotated[str, Form(max_length=1000)] = "",
    idempotency_key: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    fields = {
        "agent_id": agent_id,
        "siret": siret,
        "year": year,
        "hours": hours,
        "reason": reason,
        "attestation": {
            "signatory": signatory.strip() or None,
            "signature_date": signature_date or None,
            "stamp_present": stamp_present == "oui" or None,
        },
    }
    content = await scan.read(MAX_SCAN_BYTES + 1)
    try:
        if not agent_id:  # found by NIR and birth name, as a decrement is
            fields["agent_id"] = svc.ledger.find_agent(nir, birth_name).hex
        submission: RegularisationSubmission = body(RegularisationSubmission, **fields)
        value = Siret.parse(submission.siret).value
        scope.require_writer_for(principal, value)
        kept = svc.scans.keep(content)  # PDF, PNG or JPEG, whole, 5 MiB at most
        answer = once(
            request,
            svc,
            principal,
            idempotency_key,
            {**submission.model_dump(mode="json"), "scan": kept.sha256},
            lambda: (201, _submitted(request, svc, principal, submission, value, kept)),
        )
    except errors.DomainError as refused:
        status = status_of(refused)
        text = explain(refused.code, refused.details, status)
        form = {**fields, "birth_name": birth_name, "idempotency_key": idempotency_key}
        return _form(request, svc, principal, {**form, "agent_id": agent_id}, text, status)
    return see_other(f"/regularisations/{answer['request_id']}?fait=demande")


def _submitted(
    request: Request,
    svc: Services,
    principal: Principal,
    submission: RegularisationSubmission,
    siret: str,
    scan: ScanRef,
) -> dict[str, object]:
    request_id = svc.access.submit_regularisation(
        submission.agent_id,
        siret,
        submission.year,
        submission.hours,
        submission.attestation.model_dump(mode="json"),
        submission.reason,
        console_provenance(request, principal, None),
        guard=scope.agent_guard(principal),
        scan=scan,
    )
    return request_summary(svc, request_id)


@router.get("/regularisations/{request_id}")
def request_page(
    request_id: UUID,
    request: Request,
    principal: Authenticated,
    svc: Svc,
    fait: Annotated[str | None, Query(max_length=30)] = None,
) -> Response:
    summary = visible_request(svc, principal, request_id)  # another SIRET's: not found
    found = svc.access.regularisation(request_id)
    agent_id = str(summary["agent_id"])
    saw(request, svc, principal, [agent_id])
    context = {
        "demande": summary,
        "attestation": found.attestation,
        "scan": ScanRef.from_attestation(found.attestation),
        "personne": person(svc, agent_id),
        "statuts": STATUSES,
        "fait": fait,
    }
    return render(request, "regularisation.html", context)


@router.get("/regularisations/{request_id}/scan")
def scan_file(request_id: UUID, request: Request, principal: Authenticated, svc: Svc) -> Response:
    """The attestation's scan, as sent (checked against the digest its request recorded), in a
    sandbox: whatever a file holds, it runs nothing here."""
    summary = visible_request(svc, principal, request_id)
    ref = ScanRef.from_attestation(svc.access.regularisation(request_id).attestation)
    if ref is None:
        raise errors.RegularisationRequestNotFound("this request has no scan")
    content = svc.scans.read(ref)
    saw(request, svc, principal, [str(summary["agent_id"])])
    disposition = "attachment" if ref.media_type == "application/pdf" else "inline"
    extension = {"application/pdf": "pdf", "image/png": "png"}.get(ref.media_type, "jpg")
    return Response(
        content,
        media_type=ref.media_type,
        headers={
            "Content-Disposition": f'{disposition}; filename="attestation-{request_id.hex}.{extension}"',
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "no-store",
        },
    )


@router.post("/regularisations/{request_id}/approbation")
def approve(
    request_id: UUID,
    request: Request,
    principal: OperatorOnly,
    svc: Svc,
    idempotency_key: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Approve: the agent's regularisation is recorded; the agent's page shows it."""
    receipt = svc.access.decide_regularisation(
        request_id, True, None, console_provenance(request, principal, idempotency_key)
    )
    assert receipt is not None
    wait_for_views(svc, receipt.position)
    return see_other(
        f"/agents/{receipt.agent_id.hex}?apres={receipt.position or 0}&fait=regularisation"
    )


@router.post("/regularisations/{request_id}/rejet")
def reject(
    request_id: UUID,
    request: Request,
    principal: OperatorOnly,
    svc: Svc,
    reason: Annotated[str, Form(max_length=1000)] = "",
    idempotency_key: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    rejection = body(RegularisationRejection, reason=reason)
    svc.access.decide_regularisation(
        request_id, False, rejection.reason, console_provenance(request, principal, idempotency_key)
    )
    return see_other("/regularisations?fait=rejet")
