"""The yearly acquisition campaign (alimentation): a CSV of declaration lines, one per agent x SIRET.

Each line becomes commands on the bulk path: register the agent if unknown, declare low
qualification when flagged, record the acquisition line. Every line is applied exactly once:
an acquisition line is idempotent per agent x year x SIRET in the aggregate, so the same file
again, or a run killed half-way and started again, changes nothing twice.
"""

from __future__ import annotations

import itertools
import multiprocessing
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from eventsourcing.application import AggregateNotFoundError

from ledger import commands as cmd
from ledger.application import Ledger
from ledger.domain import errors, rules
from ledger.domain.agent import Identity
from ledger.domain.file_runs import Campaign, campaign_id
from ledger.domain.identifiers import Nir, Siret, agent_id_for
from ledger.domain.provenance import Channel, Provenance
from ledger.files.reading import FALSE, TRUE, Line, file_digest, parse_date, read_lines
from ledger.store.settings import Settings

COLUMNS = ("nir", "birth_name", "first_name", "birth_date", "siret", "year", "hours_worked")
OPTIONAL = ("low_qualification",)
MAX_REJECTIONS_KEPT = 1000
ANALYSE_AFTER = 10_000
"""Lines applied from which an import refreshes the tables' statistics (autovacuum may be off)."""


@dataclass
class CampaignReport:
    """What a campaign import did."""

    file_sha256: str
    lines_read: int = 0
    applied: int = 0
    already_applied: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    rejections: list[tuple[int, str, str]] = field(default_factory=list)  # line, code, message

    def reject(self, line: int, error: errors.DomainError) -> None:
        self.rejected[error.code] += 1
        if len(self.rejections) < MAX_REJECTIONS_KEPT:
            self.rejections.append((line, error.code, error.message))

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())


def parse_hours_worked(value: str) -> Decimal:
    try:
        hours = Decimal(value.replace(",", ".").replace(" ", ""))
    except InvalidOperation:
        raise errors.InvalidHours("hours_worked: not a number") from None
    if not hours.is_finite() or hours < 0 or hours > 10_000:
        raise errors.InvalidHours("hours_worked: must be between 0 and 10000")
    return hours


def line_commands(line: Line, key: bytes, principal: str, digest: str) -> list[cmd.Command]:
    """The commands one campaign line stands for; raises a DomainError for a bad line."""
    f = line.checked()
    nir = Nir.parse(f["nir"])
    siret = Siret.parse(f["siret"]).value
    if not f["year"].isdigit():
        raise errors.InvalidInput("year: not a year")
    year = int(f["year"])
    rules.rule_set_for(year)
    hours = parse_hours_worked(f["hours_worked"])
    birth_date = parse_date(f["birth_date"], "birth_date")
    flag = f.get("low_qualification", "").lower()
    if flag not in TRUE | FALSE:
        raise errors.InvalidInput("low_qualification: expected 1/0, oui/non, true/false")
    if not f["birth_name"] or not f["first_name"]:
        raise errors.InvalidInput("birth_name and first_name are required")
    agent_id = agent_id_for(nir, key)
    source = Provenance(principal, Channel.CAMPAIGN, f"campaign:{digest[:16]}:{line.number}")
    commands: list[cmd.Command] = [
        cmd.RegisterAgent(
            agent_id=agent_id,
            identity=Identity(nir.value, f["birth_name"], f["first_name"], birth_date),
            effective_date=date(year + 1, 1, 1),
            if_absent=True,
            provenance=source,
        )
    ]
    if flag in TRUE:
        # Declared in the employer's declarations of that year: effective from 1 January.
        commands.append(
            cmd.DeclareLowQualification(
                agent_id=agent_id,
                from_year=year,
                provenance=Provenance(
                    principal,
                    Channel.CAMPAIGN,
                    source.source,
                    idempotency_key=f"low-qualification:{year}",
                ),
            )
        )
    commands.append(
        cmd.RecordAcquisitionLine(
            agent_id=agent_id,
            year=year,
            siret=siret,
            hours_worked=hours,
            provenance=source,
        )
    )
    return commands


def import_campaign(
    ledger: Ledger,
    path: Path,
    principal: str,
    progress: Callable[[int, int], None] | None = None,
    lines_per_chunk: int = 1000,
    report_progress: Callable[[int, int, CampaignReport], None] | None = None,
    partition: tuple[int, int] = (0, 1),
    analyse: bool = True,
) -> CampaignReport:
    """Stream a campaign file through the bulk path; returns the report.

    The lines' commands go through one :meth:`Ledger.execute_many` stream in chunks of about
    ``lines_per_chunk`` lines (each chunk one transaction; on PostgreSQL one is applied while the
    previous one is written). ``progress`` is called with (bytes read, lines read) after each
    chunk's worth of lines; ``report_progress`` also gets the report so far. Leaves the tables
    analysed (PostgreSQL plans the next chunk's reads from their statistics).

    ``partition`` (k, n): only the lines of agents whose id is k modulo n (and, for k = 0, the
    lines that do not parse), so n processes share a file by agent, each agent in one of them.
    """
    part, parts = partition
    digest = file_digest(path)
    report = CampaignReport(digest)
    lines = read_lines(path, COLUMNS, OPTIONAL)
    pending: deque[tuple[int, int, int]] = deque()  # line number, commands, bytes read

    def commands() -> Iterator[cmd.Command]:
        for line in lines:
            try:
                found = line_commands(line, ledger.id_key, principal, digest)
            except errors.DomainError as error:
                if part == 0:
                    report.lines_read += 1
                    report.reject(line.number, error)
                continue
            if parts > 1 and found[0].agent_id.int % parts != part:
                continue
            report.lines_read += 1
            pending.append((line.number, len(found), line.offset))
            yield from found

    outcomes = ledger.execute_many(commands(), chunk_size=3 * lines_per_chunk)
    for done, first in enumerate(outcomes, start=1):
        number, count, offset = pending.popleft()
        results = [first, *itertools.islice(outcomes, count - 1)]
        failure = next((r.error for r in results if r.error is not None), None)
        acquisition = results[-1]
        if isinstance(
            failure, errors.LowQualificationAlreadyDeclared | errors.RetroactiveDeclaration
        ):
            failure = None if acquisition.error is None else acquisition.error
        if failure is not None:
            report.reject(number, failure)
        elif acquisition.receipt is not None and acquisition.receipt.replayed:
            report.already_applied += 1
        else:
            report.applied += 1
        if done % lines_per_chunk == 0 or not pending:
            if progress:
                progress(offset, report.lines_read)
            if report_progress:
                report_progress(offset, report.lines_read, report)
    if analyse and report.applied >= ANALYSE_AFTER:
        ledger.analyse()
    return report


def import_campaign_in_parallel(
    settings: Settings, path: Path, principal: str, workers: int
) -> CampaignReport:
    """The same import shared by ``workers`` processes, each taking the agents whose id falls
    in its partition (one PostgreSQL; the same split spreads over several machines). Reports
    are added up; the tables are analysed once at the end."""
    ledger = Ledger(settings)  # the tables exist before the workers start
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers) as pool:
        reports = pool.starmap(
            _import_partition,
            [(settings.model_dump(), str(path), principal, (k, workers)) for k in range(workers)],
        )
    total = CampaignReport(reports[0].file_sha256)
    for report in reports:
        total.lines_read += report.lines_read
        total.applied += report.applied
        total.already_applied += report.already_applied
        total.rejected.update(report.rejected)
        total.rejections += report.rejections
    total.rejections = sorted(total.rejections)[:MAX_REJECTIONS_KEPT]
    try:
        if total.applied >= ANALYSE_AFTER:
            ledger.analyse()
    finally:
        ledger.close()
    return total


def _import_partition(
    settings: dict[str, Any], path: str, principal: str, partition: tuple[int, int]
) -> CampaignReport:
    ledger = Ledger(Settings(**settings))
    try:
        return import_campaign(ledger, Path(path), principal, partition=partition, analyse=False)
    finally:
        ledger.close()


def campaign_counts(report: CampaignReport) -> dict[str, object]:
    """The figures a campaign run records as it goes and when it ends."""
    return {
        "lines_read": report.lines_read,
        "applied": report.applied,
        "already_applied": report.already_applied,
        "rejected": dict(report.rejected),
    }


def start_campaign(ledger: Ledger, path: Path, filename: str, principal: str) -> Campaign | None:
    """Record the start of a run of this file; None when it runs already or has finished (its
    record then says so: the same file is one campaign)."""
    digest = file_digest(path)
    provenance = Provenance(principal, Channel.CAMPAIGN, f"campaign:{digest}").as_dict()
    try:
        run: Campaign = ledger.repository.get(campaign_id(digest))
    except AggregateNotFoundError:
        run = Campaign.start(digest, filename, provenance)
    else:
        if not run.restart(provenance):
            return None
    ledger.save(run)
    return run


def run_campaign(
    ledger: Ledger,
    run: Campaign,
    path: Path,
    principal: str,
    heartbeat_seconds: float = 5.0,
) -> Campaign:
    """Import the file of a started run, recording its progress every ``heartbeat_seconds``, then
    its report, or why it failed."""
    provenance = Provenance(principal, Channel.CAMPAIGN, f"campaign:{run.file_sha256}").as_dict()
    last = [time.monotonic()]

    def progress(offset: int, lines: int, report: CampaignReport) -> None:
        if time.monotonic() - last[0] >= heartbeat_seconds:
            last[0] = time.monotonic()
            run.progress(campaign_counts(report), provenance)
            ledger.save(run)

    try:
        report = import_campaign(ledger, path, principal, report_progress=progress)
    except errors.DomainError as error:
        run.fail(error.code, error.message, provenance)
    except Exception as error:  # the run must never stay "running" for ever
        run.fail("internal_error", f"the import stopped: {type(error).__name__}", provenance)
        ledger.save(run)
        raise
    else:
        rejections = [{"line": n, "code": c, "message": m} for n, c, m in report.rejections]
        run.finish(campaign_counts(report), rejections, provenance)
    ledger.save(run)
    return run
