"""Bulk files over HTTP: campaign imports (operator) and decrement file deposits (gestion), and
the yearly extraction. The same code path as the command line."""

from __future__ import annotations

import tempfile
import threading
import uuid
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.auth import Authenticated, require_operator, require_writer
from api.exports import csv_lines, export_response
from api.observability import BULK_LINES
from api.problems import ApiProblem
from api.routes.common import saw, trailed
from api.services import Services, services
from ledger import errors
from ledger.access import Role
from ledger.campaign import CampaignReport, import_campaign
from ledger.csvfiles import file_digest
from ledger.deposits import REPORT_COLUMNS, DecrementFile, deposit_file
from ledger.identifiers import Siret
from projections.extraction import COLUMNS as EXTRACTION_COLUMNS
from projections.extraction import extraction_rows
from projections.queries import Principal

router = APIRouter(prefix="/v1", tags=["files"])
Svc = Annotated[Services, Depends(services)]
MAX_FILE_BYTES = 200 * 1024 * 1024
CSV_BODY = {
    "requestBody": {
        "required": True,
        "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}},
    }
}

_campaigns: dict[str, dict[str, Any]] = {}  # runs of this process, by file SHA-256
_campaigns_lock = threading.Lock()


async def save_body(request: Request, directory: str) -> Path:
    path = Path(directory) / "upload.csv"
    size = 0
    with path.open("wb") as out:
        async for block in request.stream():
            size += len(block)
            if size > MAX_FILE_BYTES:
                raise ApiProblem(
                    413,
                    "file_too_large",
                    f"files are limited to {MAX_FILE_BYTES // (1024 * 1024)} MiB",
                )
            out.write(block)
    if size == 0:
        raise ApiProblem(422, "empty_file", "the request body must be the CSV file")
    return path


def _deposit_scope(principal: Principal) -> tuple[str, set[str] | None]:
    if principal.role == Role.OPERATOR:
        return "operator", None
    assert principal.siret is not None
    return principal.siret, set(principal.sirets)


@router.post(
    "/decrement-files",
    status_code=201,
    openapi_extra=CSV_BODY,
    summary="Deposit a decrement file (gestion, operator): the per-line report",
)
async def deposit(
    request: Request,
    principal: Authenticated,
    svc: Svc,
    filename: Annotated[str, Query(max_length=200)] = "decrements.csv",
) -> object:
    require_writer(principal, None)
    scope, sirets = _deposit_scope(principal)
    with tempfile.TemporaryDirectory() as directory:
        path = await save_body(request, directory)
        result = await run_in_threadpool(
            deposit_file, svc.ledger, path, filename, principal.label, scope, sirets
        )
    for status in ("applied", "rejected"):
        BULK_LINES.labels("decrement_file", status).inc(result.summary()[status])
    return {**result.summary(), "report": result.lines}


@router.get("/decrement-files/{deposit_id}", summary="A deposit's report (JSON, or CSV)")
def deposit_report(
    deposit_id: uuid.UUID,
    request: Request,
    principal: Authenticated,
    svc: Svc,
    format: Literal["json", "csv"] = "json",
) -> object:
    found = _deposit_from(svc, principal, deposit_id)
    saw(request, svc, principal, [line["agent_id"] for line in found.lines if line.get("agent_id")])
    if format == "csv":
        return StreamingResponse(
            csv_lines(REPORT_COLUMNS, found.lines),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="report-{deposit_id.hex}.csv"'},
        )
    return {**found.summary(), "report": found.lines}


def _deposit_from(svc: Services, principal: Principal, deposit: uuid.UUID) -> DecrementFile:
    try:
        found: DecrementFile = svc.ledger.repository.get(deposit)
    except Exception:
        raise ApiProblem(404, "deposit_not_found", "no such deposit") from None
    if not isinstance(found, DecrementFile) or (
        not principal.reads_everything and found.scope != principal.siret
    ):
        raise ApiProblem(404, "deposit_not_found", "no such deposit")
    return found


@router.post(
    "/campaigns",
    status_code=202,
    openapi_extra=CSV_BODY,
    summary="Import a campaign file (operator): runs in the background; poll its id",
)
async def start_campaign(
    request: Request,
    principal: Authenticated,
    svc: Svc,
    filename: Annotated[str, Query(max_length=200)] = "campagne.csv",
) -> object:
    require_operator(principal)
    directory = tempfile.mkdtemp()
    path = await save_body(request, directory)
    digest = file_digest(path)
    with _campaigns_lock:
        run = _campaigns.get(digest)
        if run and run["status"] == "running":
            return {"campaign_id": digest, **run}
        _campaigns[digest] = {"status": "running", "filename": filename, "lines_read": 0}

    def work() -> None:
        state = _campaigns[digest]
        try:
            report: CampaignReport = import_campaign(
                svc.ledger,
                path,
                principal.label,
                progress=lambda offset, lines: state.update(lines_read=lines),
            )
            BULK_LINES.labels("campaign", "applied").inc(report.applied)
            BULK_LINES.labels("campaign", "already_applied").inc(report.already_applied)
            BULK_LINES.labels("campaign", "rejected").inc(report.rejected_total)
            state.update(
                status="finished",
                lines_read=report.lines_read,
                applied=report.applied,
                already_applied=report.already_applied,
                rejected=dict(report.rejected),
                rejections=[{"line": n, "code": c, "message": m} for n, c, m in report.rejections],
            )
        except errors.DomainError as error:
            state.update(status="failed", error=error.code, message=error.message)
        finally:
            path.unlink(missing_ok=True)

    threading.Thread(target=work, name=f"campaign-{digest[:8]}", daemon=True).start()
    return {"campaign_id": digest, **_campaigns[digest]}


@router.get("/campaigns/{campaign_id}", summary="A campaign import's progress and report")
def campaign_status(campaign_id: str, principal: Authenticated) -> object:
    require_operator(principal)
    run = _campaigns.get(campaign_id)
    if run is None:
        raise ApiProblem(
            404,
            "campaign_not_found",
            "no campaign with this id ran in this process; import the file again: "
            "lines already applied are not applied twice",
        )
    return {"campaign_id": campaign_id, **run}


@router.get(
    "/employers/{siret}/extraction",
    summary="The yearly extraction: identity, balance, ceiling and history of every "
    "agent with an acquisition line for this SIRET that year (CSV or XLSX)",
)
def extraction(
    siret: str,
    request: Request,
    principal: Authenticated,
    svc: Svc,
    year: Annotated[int, Query(ge=2017, le=2100)],
    format: Literal["csv", "xlsx"] = "csv",
) -> StreamingResponse:
    value = Siret.parse(siret).value
    svc.queries.check_siret(principal, value)
    rows = extraction_rows(svc.queries, svc.ledger, principal, value, year)
    return export_response(
        format,
        f"extraction-{value}-{year}",
        EXTRACTION_COLUMNS,
        trailed(request, svc, principal, rows),
    )
