"""Bulk files over HTTP: campaign imports (operator) and decrement file deposits (gestion), and
the yearly extraction. The same code paths as the command line."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.auth import Authenticated, OperatorOnly, Svc, Writer
from api.bootstrap import Services
from api.common import trailed
from api.exports import DEPOSIT_REPORT, EXTRACTION, csv_lines, export_response
from api.files.schemas import BINARY, CSV_AND_XLSX, CampaignRun
from api.files.schemas import DepositReport as DepositReportOut
from api.observability import BULK_LINES
from api.problems import ApiProblem
from ledger.domain.access import Principal
from ledger.domain.errors import CampaignNotFound, DepositNotFound
from ledger.domain.file_runs import Campaign, DecrementFile, campaign_id
from ledger.domain.identifiers import Siret
from ledger.files.campaign import run_campaign, start_campaign
from ledger.files.deposits import DepositReport, deposit_file
from ledger.files.reading import file_digest
from projections import scope
from projections.extraction import extraction_rows

router = APIRouter(prefix="/v1", tags=["files"])
FILE_BODY = {
    "requestBody": {
        "required": True,
        "description": "The file (CSV or XLSX, told apart by content), as the body or as the "
        "`file` field of a form (`curl -F file=@…`)",
        "content": {
            "text/csv": BINARY,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": BINARY,
            "application/octet-stream": BINARY,
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
        },
    }
}


async def save_body(request: Request, directory: str) -> Path:
    """The uploaded file, streamed to disk (the edge stops it at its size limit): the raw body,
    or the ``file`` field of a multipart form."""
    path = Path(directory) / "upload"
    size = 0
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        async with request.form(max_files=1, max_fields=10) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise ApiProblem(422, "empty_file", "the form needs the file in a `file` field")
            with path.open("wb") as out:
                while block := await upload.read(1 << 16):
                    size += len(block)
                    out.write(block)
    else:
        with path.open("wb") as out:
            async for block in request.stream():
                size += len(block)
                out.write(block)
    if size == 0:
        raise ApiProblem(422, "empty_file", "the request body must be the CSV file")
    return path


@router.post(
    "/decrement-files",
    status_code=201,
    response_model=DepositReportOut,
    openapi_extra=FILE_BODY,
    summary="Deposit a decrement file (gestion, operator): the per-line report",
)
async def deposit(
    request: Request,
    principal: Writer,
    svc: Svc,
    filename: Annotated[str, Query(max_length=200)] = "decrements.csv",
) -> object:
    owner, sirets = scope.deposit_owner(principal)
    with tempfile.TemporaryDirectory() as directory:
        path = await save_body(request, directory)
        result = await run_in_threadpool(
            deposit_file, svc.ledger, path, filename, principal.label, owner, sirets
        )
    for status in ("applied", "rejected"):
        BULK_LINES.labels("decrement_file", status).inc(result.summary()[status])
    return _report(request, svc, principal, result, "json", 201)


@router.get(
    "/decrement-files/{deposit_id}",
    response_model=DepositReportOut,
    responses={200: {"content": {"text/csv": BINARY}}},
    summary="A deposit's report (JSON, or CSV)",
)
def deposit_report(
    deposit_id: uuid.UUID,
    request: Request,
    principal: Authenticated,
    svc: Svc,
    format: Literal["json", "csv"] = "json",
) -> object:
    found = DepositReport(svc.ledger, deposit_of(svc, principal, deposit_id))
    return _report(request, svc, principal, found, format, 200)


def _report(
    request: Request,
    svc: Services,
    principal: Principal,
    report: DepositReport,
    fmt: str,
    status: int,
) -> StreamingResponse:
    """A deposit's report streamed from the store, its agents noted in the read trail."""
    lines = trailed(request, svc, principal, report.iter_lines())
    if fmt == "csv":
        return StreamingResponse(
            csv_lines(DEPOSIT_REPORT, lines),
            status_code=status,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="report-{report.id.hex}.csv"'},
        )
    return StreamingResponse(
        _json_report(report.summary(), lines), status_code=status, media_type="application/json"
    )


def _json_report(summary: dict[str, object], lines: Iterator[dict[str, object]]) -> Iterator[bytes]:
    yield orjson.dumps(summary)[:-1] + b',"report":['
    for index, line in enumerate(lines):
        yield (b"," if index else b"") + orjson.dumps(line)
    yield b"]}"


def deposit_of(svc: Services, principal: Principal, deposit: uuid.UUID) -> DecrementFile:
    missing = DepositNotFound("no such deposit")
    found = svc.ledger.aggregate(deposit, DecrementFile, missing)
    if not scope.owns_document(principal, found.scope):
        raise missing
    return found


@router.post(
    "/campaigns",
    status_code=202,
    response_model=CampaignRun,
    openapi_extra=FILE_BODY,
    summary="Import a campaign file (operator): runs in the background; poll its id",
)
async def start(
    request: Request,
    principal: OperatorOnly,
    svc: Svc,
    filename: Annotated[str, Query(max_length=200)] = "campagne.csv",
) -> object:
    directory = tempfile.mkdtemp()
    path = await save_body(request, directory)
    digest = file_digest(path)
    run = await run_in_threadpool(start_campaign, svc.ledger, path, filename, principal.label)
    if run is None:  # running already, or finished: the same file is one campaign
        shutil.rmtree(directory, ignore_errors=True)
        return campaign_of(svc, digest).summary()

    def work() -> None:
        try:
            done = run_campaign(svc.ledger, run, path, principal.label)
            counts = done.counts
            BULK_LINES.labels("campaign", "applied").inc(counts.get("applied", 0))
            BULK_LINES.labels("campaign", "already_applied").inc(counts.get("already_applied", 0))
            BULK_LINES.labels("campaign", "rejected").inc(sum(counts.get("rejected", {}).values()))
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    svc.background.start(f"campaign-{digest[:12]}", work)
    return run.summary()


def campaign_of(svc: Services, digest: str) -> Campaign:
    missing = CampaignNotFound("no campaign was started with this file")
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise missing
    return svc.ledger.aggregate(campaign_id(digest), Campaign, missing)


@router.get(
    "/campaigns/{campaign_id}",
    response_model=CampaignRun,
    summary="A campaign import's progress and report",
)
def campaign_status(campaign_id: str, principal: OperatorOnly, svc: Svc) -> object:
    return campaign_of(svc, campaign_id).summary()


@router.get(
    "/employers/{siret}/extraction",
    response_class=StreamingResponse,
    responses={200: {"content": CSV_AND_XLSX}},
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
    rows = extraction_rows(svc.queries, svc.ledger, principal, value, year)
    return export_response(
        format,
        f"extraction-{value}-{year}",
        EXTRACTION,
        trailed(request, svc, principal, rows),
    )
