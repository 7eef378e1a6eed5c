"""``cpf-ledger campaign``, ``decrements``, ``export`` and ``demo``: the bulk files."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from api.cli.common import (
    CLI_OPERATOR,
    SOME_REJECTED,
    JsonOption,
    console,
    emit_json,
    fail,
    file_progress,
    services,
)
from api.exports import DEPOSIT_REPORT, EXTRACTION, csv_lines, spooled, xlsx_chunks
from ledger.domain.errors import DomainError
from ledger.domain.identifiers import Siret
from ledger.files.campaign import campaign_counts, import_campaign, import_campaign_in_parallel
from ledger.files.deposits import deposit_file
from projections.extraction import extraction_rows

campaign = typer.Typer(help="The yearly acquisition campaign.", no_args_is_help=True)
decrements = typer.Typer(help="Decrement files.", no_args_is_help=True)
demo = typer.Typer(help="A synthetic population, deterministic from a seed.", no_args_is_help=True)


class Format(StrEnum):
    csv = "csv"
    xlsx = "xlsx"


@campaign.command("import")
def campaign_import(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV of declaration lines"),
    workers: int = typer.Option(
        1, min=1, max=32, help="Processes sharing the file by agent (PostgreSQL; no progress bar)"
    ),
    as_json: bool = JsonOption,
) -> None:
    """Import a campaign file: streamed, applied in chunks, each line exactly once.

    Exits 0 when every line was applied (or already was), 1 when some were rejected."""
    svc = services()
    try:
        if workers > 1 and svc.settings.uses_postgres:
            result = import_campaign_in_parallel(svc.settings, file, "operator:cli", workers)
        else:
            with file_progress(file, quiet=as_json) as report:
                result = import_campaign(svc.ledger, file, "operator:cli", progress=report)
    except DomainError as error:
        raise fail(error) from None
    counts = campaign_counts(result)
    rejections = [{"line": n, "code": c, "message": m} for n, c, m in result.rejections]
    if as_json:
        emit_json({**counts, "file_sha256": result.file_sha256, "rejections": rejections})
    else:
        console.print(
            f"{result.lines_read:,} lines read: {result.applied:,} applied, "
            f"{result.already_applied:,} already applied before, "
            f"{result.rejected_total:,} rejected."
        )
        _rejections(rejections, result.rejected_total, dict(result.rejected))
    if result.rejected_total:
        raise typer.Exit(SOME_REJECTED)


def _rejections(rows: list[dict[str, Any]], total: int, by_code: dict[str, int]) -> None:
    if not total:
        return
    table = Table("reason", "lines", title="rejected lines by reason")
    for code, count in sorted(by_code.items(), key=lambda item: -item[1]):
        table.add_row(code, f"{count:,}")
    console.print(table)
    first = Table("line", "reason", "message", title="first rejected lines")
    for row in rows[:20]:
        first.add_row(str(row["line"]), row["code"], row["message"])
    console.print(first)
    if total > 20:
        console.print(f"… and {total - 20:,} more (the report has them all).")


@decrements.command("deposit")
def decrements_deposit(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="`;`-separated CSV"),
    report_csv: Path | None = typer.Option(None, "--report", help="Write the report as CSV"),
    as_json: bool = JsonOption,
) -> None:
    """Deposit a decrement file as an operator: every line checked, the good ones applied once.

    Exits 0 when every line was applied, 1 when some were rejected. The same file again applies
    nothing and shows its first report."""
    with file_progress(file, quiet=as_json) as report:
        try:
            deposit = deposit_file(
                services().ledger, file, file.name, "operator:cli", "operator", None, report
            )
        except DomainError as error:
            raise fail(error) from None
    summary = deposit.summary()
    lines = list(deposit.iter_lines()) if as_json else []
    if as_json:
        emit_json({**summary, "already_deposited": deposit.again, "report": lines})
    else:
        if deposit.again:
            console.print(
                "This file was already deposited: nothing was applied again. Its first report:"
            )
        console.print(
            f"{summary['lines']:,} lines: {summary['applied']:,} applied, "
            f"{summary['rejected']:,} rejected; {summary['hours_from_reserve']:,} h taken from "
            f"undeclared-DIF reserves and {summary['hours_from_counter']:,} h from counters."
        )
        rejected = [line for line in deposit.iter_lines() if line["status"] == "rejected"]
        by_code: dict[str, int] = {}
        for line in rejected:
            by_code[line["code"]] = by_code.get(line["code"], 0) + 1
        _rejections(rejected, len(rejected), by_code)
    if report_csv:
        with report_csv.open("wb") as out:
            for chunk in csv_lines(DEPOSIT_REPORT, deposit.iter_lines()):
                out.write(chunk)
        if not as_json:
            console.print(f"report written to {report_csv}")
    if summary["rejected"]:
        raise typer.Exit(SOME_REJECTED)


def export(
    siret: str = typer.Argument(..., help="The establishment's SIRET"),
    year: int = typer.Option(..., min=2017, max=2100, help="Acquisition year (the scope)"),
    format: Format = typer.Option(Format.csv, help="csv or xlsx"),
    output: Path | None = typer.Option(None, help="File to write (default: standard output)"),
) -> None:
    """The yearly extraction of a SIRET: identity, balance, ceiling and history of each agent."""
    svc = services()
    try:
        value = Siret.parse(siret).value
        svc.access.establishment(value)  # an unknown SIRET is an error, not an empty file
    except DomainError as error:
        raise fail(error) from None
    svc.projector.catch_up()

    def trailed(rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        seen: set[str] = set()
        for row in rows:
            if row["agent_id"] not in seen:
                seen.add(row["agent_id"])
                svc.trail.record("cli", "cli:export", [row["agent_id"]])
            yield row

    try:
        rows = trailed(extraction_rows(svc.queries, svc.ledger, CLI_OPERATOR, value, year))
        chunks = (
            xlsx_chunks(EXTRACTION, rows) if format is Format.xlsx else csv_lines(EXTRACTION, rows)
        )
        spool = spooled(chunks)  # whole before it is written out: complete, or an error
    except DomainError as error:
        raise fail(error) from None
    out = output.open("wb") if output else sys.stdout.buffer
    try:
        shutil.copyfileobj(spool, out)
    finally:
        spool.close()
        if output:
            out.close()


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
        _demo_logins_on(svc)
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
    _demo_logins_on(svc)


def _demo_logins_on(svc: Any) -> None:
    """The demo logins, on a store holding the demo population (its first establishment)."""
    from ledger.domain.errors import EstablishmentNotFound
    from ledger.files.demo import demo_siret
    from ledger.files.demo_logins import create_demo_logins

    try:
        svc.access.establishment(demo_siret(1))
    except EstablishmentNotFound:
        return
    create_demo_logins(svc.accounts, demo_siret(1))


@demo.command("login")
def demo_login() -> None:
    """Print the demo logins (development only: anyone may use them)."""
    from ledger.files.demo import demo_siret
    from ledger.files.demo_logins import PASSWORD, SECRET, current_code, demo_logins

    svc = services()
    accounts = svc.accounts
    found = [d for d in demo_logins(demo_siret(1)) if accounts.account_by_email(d.email)]
    if not found:
        console.print("no demo login in this store")
        return
    console.print("[bold]Demo logins[/bold] (development only), password: " + PASSWORD)
    for login in found:
        console.print(f"  {login.email}  ({login.who})")
    console.print(
        f"Second factor: add the secret {SECRET} to an authenticator application, or print "
        "the current code with `.venv/bin/cpf-ledger demo totp`. Sign in to the web console "
        f"at {svc.settings.public_url.rstrip('/')}/ (or POST /v1/sessions "
        "{email, password, second_factor})."
    )
    console.print(f"  current code: {current_code()}")


@demo.command("totp")
def demo_totp() -> None:
    """The demo second factor's current code."""
    from ledger.files.demo_logins import current_code

    typer.echo(current_code())
