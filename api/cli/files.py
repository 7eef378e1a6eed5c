"""``cpf-ledger campaign``, ``decrements``, ``export`` and ``demo``: the bulk files."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from api.cli.common import CLI_OPERATOR, console, fail, file_progress, services
from api.exports import csv_lines, xlsx_chunks
from ledger.domain.errors import DomainError
from ledger.domain.identifiers import Siret
from ledger.files.campaign import import_campaign, import_campaign_in_parallel
from ledger.files.deposits import REPORT_COLUMNS, deposit_file
from projections.extraction import COLUMNS, extraction_rows

campaign = typer.Typer(help="The yearly acquisition campaign.", no_args_is_help=True)
decrements = typer.Typer(help="Decrement files.", no_args_is_help=True)
demo = typer.Typer(help="A synthetic population, deterministic from a seed.", no_args_is_help=True)


@campaign.command("import")
def campaign_import(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV of declaration lines"),
    workers: int = typer.Option(
        1, min=1, max=32, help="Processes sharing the file by agent (PostgreSQL; no progress bar)"
    ),
) -> None:
    """Import a campaign file: streamed, applied in chunks, each line exactly once."""
    svc = services()
    if workers > 1 and svc.settings.uses_postgres:
        try:
            result = import_campaign_in_parallel(svc.settings, file, "operator:cli", workers)
        except DomainError as error:
            raise fail(error) from None
    else:
        with file_progress(file) as report:
            try:
                result = import_campaign(svc.ledger, file, "operator:cli", progress=report)
            except DomainError as error:
                raise fail(error) from None
    table = Table("lines read", "applied", "already applied", "rejected")
    table.add_row(
        str(result.lines_read),
        str(result.applied),
        str(result.already_applied),
        str(result.rejected_total),
    )
    console.print(table)
    for code, count in result.rejected.most_common():
        console.print(f"  rejected [red]{code}[/red]: {count}")
    for line, code, message in result.rejections[:20]:
        console.print(f"  line {line}: {code}: {message}")
    if len(result.rejections) > 20:
        console.print(f"  … {result.rejected_total - 20} more")


@decrements.command("deposit")
def decrements_deposit(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="`;`-separated CSV"),
    report_csv: Path | None = typer.Option(None, "--report", help="Write the report as CSV"),
) -> None:
    """Deposit a decrement file as an operator; prints the summary (and writes the report)."""
    with file_progress(file) as report:
        try:
            deposit = deposit_file(
                services().ledger, file, file.name, "operator:cli", "operator", None, report
            )
        except DomainError as error:
            raise fail(error) from None
    console.print(deposit.summary())
    if report_csv:
        with report_csv.open("wb") as out:
            for chunk in csv_lines(REPORT_COLUMNS, deposit.lines):
                out.write(chunk)
        console.print(f"report written to {report_csv}")


def export(
    siret: str,
    year: int = typer.Option(..., help="Acquisition year (the extraction scope)"),
    format: str = typer.Option("csv", help="csv or xlsx"),
    output: Path | None = typer.Option(None, help="File to write (default: standard output)"),
) -> None:
    """The yearly extraction of a SIRET: identity, balance, ceiling and history of each agent."""
    if format not in ("csv", "xlsx"):
        raise typer.BadParameter("format is csv or xlsx")
    svc = services()
    svc.projector.catch_up()

    def trailed(rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        seen: set[str] = set()
        for row in rows:
            if row["agent_id"] not in seen:
                seen.add(row["agent_id"])
                svc.trail.record("cli", "cli:export", [row["agent_id"]])
            yield row

    try:
        rows = trailed(
            extraction_rows(svc.queries, svc.ledger, CLI_OPERATOR, Siret.parse(siret).value, year)
        )
        chunks = xlsx_chunks(COLUMNS, rows) if format == "xlsx" else csv_lines(COLUMNS, rows)
        out = output.open("wb") if output else sys.stdout.buffer
        for chunk in chunks:
            out.write(chunk)
        if output:
            out.close()
    except DomainError as error:
        raise fail(error) from None


@demo.command("generate")
def demo_generate(
    directory: Path,
    agents: int = typer.Option(1000, min=1),
    establishments: int = typer.Option(20, min=1),
    seed: int = typer.Option(2026),
    last_year: int = typer.Option(2025),
) -> None:
    """Write campaign and decrement files of a synthetic population."""
    from ledger.files.demo import generate, write_files

    for path in write_files(generate(agents, establishments, seed, last_year), directory):
        console.print(f"wrote {path}")


@demo.command("load")
def demo_load(
    agents: int = typer.Option(300, min=1),
    establishments: int = typer.Option(12, min=1),
    seed: int = typer.Option(2026),
    last_year: int = typer.Option(2025),
    if_empty: bool = typer.Option(False, help="Do nothing if the store already holds events"),
) -> None:
    """Generate a synthetic population and load it (campaigns, decrement files, movements)."""
    from ledger.files.demo import generate, load

    svc = services()
    if if_empty and (svc.ledger.recorder.max_notification_id() or 0) > 0:
        console.print("the store is not empty: no demo population loaded")
        return
    population = generate(agents, establishments, seed, last_year)
    with tempfile.TemporaryDirectory() as directory:
        result = load(svc.ledger, population, Path(directory), say=console.print)
    svc.projector.catch_up()
    console.print(
        f"[green]loaded a demo population[/green]: {agents} agents, "
        f"{result.establishments} establishments, {result.campaign_lines} campaign lines, "
        f"{result.decrement_lines} decrements, {result.operator_movements} other movements, "
        f"{result.events} events in all"
    )
