"""The CDC's operations: the yearly campaign file imported with its progress shown live and its
report, and the projections with their lag, rebuilt blue/green with their progress shown.

A campaign is the API's campaign (``/v1/campaigns``): recorded in the store as it runs, so any
API process shows its progress, after a restart too; a run cut short is started again by the
same file. A rebuild is the API's rebuild; its progress is the views' own bookkeeping.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import File, Form, Query, Request, Response, UploadFile

from api.auth import OperatorOnly, ReaderOfEverything, Svc
from api.bootstrap import Services
from api.console.web import console_router, is_htmx, render, see_other
from api.files.endpoints import campaign_of
from api.observability import BULK_LINES
from api.problems import ApiProblem
from ledger.domain import errors
from ledger.files.campaign import run_campaign, start_campaign
from ledger.files.reading import file_digest
from projections.views import VIEWS

router = console_router()
HEARTBEAT_SECONDS = 1.0
"""How often a campaign started here records its progress (the page shows it live)."""


def _lines(path: Path) -> int:
    """How many lines the file has (its header aside): the progress bar's end."""
    count, last = 0, b"\n"
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            count += block.count(b"\n")
            last = block[-1:]
    return max(0, count + (last != b"\n") - 1)


@router.get("/operateur/campagnes")
def campaigns_page(request: Request, principal: OperatorOnly, svc: Svc) -> Response:
    context = {"campagnes": svc.jobs.recent("campaign", None, 20)}
    return render(request, "campagnes.html", context)


@router.post("/operateur/campagnes")
async def start(
    request: Request,
    principal: OperatorOnly,
    svc: Svc,
    fichier: Annotated[UploadFile, File()],
) -> Response:
    """Import a campaign file in the background (the same file again: the same campaign, resumed
    when it was cut short)."""
    directory = tempfile.mkdtemp(prefix="cpf-campagne-")
    path = Path(directory) / "campagne"
    with path.open("wb") as out:
        while block := await fichier.read(1 << 20):
            out.write(block)
    if path.stat().st_size == 0:
        shutil.rmtree(directory, ignore_errors=True)
        raise errors.InvalidInput("the file is empty")
    digest = file_digest(path)
    name = (fichier.filename or "campagne.csv")[:200]
    run = start_campaign(svc.ledger, path, name, principal.label)
    if run is None:  # running already, or finished: the same file is one campaign
        shutil.rmtree(directory, ignore_errors=True)
        return see_other(f"/operateur/campagnes/{digest}")
    job = svc.jobs.start(
        "campaign", digest, "operator", principal.label, name, {"total": _lines(path)}
    )

    def work() -> None:
        try:
            done = run_campaign(
                svc.ledger, run, path, principal.label, heartbeat_seconds=HEARTBEAT_SECONDS
            )
            counts = done.counts
            BULK_LINES.labels("campaign", "applied").inc(counts.get("applied", 0))
            BULK_LINES.labels("campaign", "already_applied").inc(counts.get("already_applied", 0))
            BULK_LINES.labels("campaign", "rejected").inc(sum(counts.get("rejected", {}).values()))
            svc.jobs.update(job.job_id, status="finished")
        except Exception:
            svc.jobs.update(job.job_id, status="failed")
            raise
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    svc.background.start(f"campaign-{digest[:12]}", work)
    return see_other(f"/operateur/campagnes/{digest}")


@router.get("/operateur/campagnes/{campaign_id}")
def campaign_page(
    campaign_id: str,
    request: Request,
    principal: OperatorOnly,
    svc: Svc,
    code: Annotated[str, Query(max_length=60)] = "",
) -> Response:
    """A campaign's progress while it runs (the page follows it), then its report."""
    summary = campaign_of(svc, campaign_id).summary()
    job = svc.jobs.latest("campaign", campaign_id)
    rejections = summary.get("rejections") or []
    context = {
        "campagne": summary,
        "total": (job.progress.get("total") if job else None) or 0,
        "rejets": [r for r in rejections if not code or r["code"] == code],
        "codes": sorted({str(r["code"]) for r in rejections}),
        "code": code,
        "id": campaign_id,
    }
    template = "fragments/campagne.html" if is_htmx(request) else "campagne.html"
    return render(request, template, context)


def _status(svc: Services) -> list[dict[str, Any]]:
    return [
        {
            "view": s.view,
            "generation": s.generation,
            "position": s.position,
            "head": s.head,
            "lag_events": s.lag_events,
            "lag_seconds": s.lag_seconds,
            "rebuilding": s.rebuilding_generation,
            "rebuilt": s.rebuilding_position,
        }
        for s in svc.projector.status()
    ]


@router.get("/operateur/projections")
def projections_page(
    request: Request,
    principal: ReaderOfEverything,
    svc: Svc,
    fait: Annotated[str | None, Query(max_length=30)] = None,
) -> Response:
    """Each view's position, lag and any rebuild under way (the page follows it)."""
    context = {
        "vues": _status(svc),
        "noms": list(VIEWS),
        "fait": fait,
        "reconstructions": svc.jobs.recent("rebuild", None, 5),
        "en_cours": svc.background.running("rebuild"),
    }
    template = "fragments/projections.html" if is_htmx(request) else "projections.html"
    return render(request, template, context)


@router.post("/operateur/projections/reconstruction")
def rebuild(
    request: Request,
    principal: OperatorOnly,
    svc: Svc,
    vue: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Rebuild a view (or all) blue/green in the background, as ``/v1/projections/rebuild``."""
    if vue and vue not in VIEWS:
        raise errors.InvalidInput("no such view")
    names = [vue] if vue else list(VIEWS)
    if svc.background.running("rebuild"):
        raise ApiProblem(409, "rebuild_running", "a rebuild is already running in this process")
    job = svc.jobs.start("rebuild", ",".join(names), "operator", principal.label, ", ".join(names))

    def work() -> None:
        try:
            svc.projector.rebuild(
                names, progress=lambda position, head: svc.jobs.update(job.job_id)
            )
            svc.jobs.update(job.job_id, status="finished")
        except Exception:
            svc.jobs.update(job.job_id, status="failed")
            raise

    svc.background.start("rebuild", work)
    return see_other("/operateur/projections?fait=reconstruction")
