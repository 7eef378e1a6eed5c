"""The ``cpf-ledger`` command line (typer + rich)."""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from ledger.access import Profile, Role
from ledger.access_service import AccessService
from ledger.application import Ledger
from ledger.errors import DomainError
from ledger.provenance import Channel, Provenance
from projections.queries import Principal
from projections.runner import Projector
from projections.views import VIEWS

app = typer.Typer(
    help="CPF Ledger: training-hour counters of French public agents.", no_args_is_help=True
)
projections_app = typer.Typer(help="Operate the read-side views.", no_args_is_help=True)
app.add_typer(projections_app, name="projections")
keys_app = typer.Typer(help="API keys (bootstrap the first operator here).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
establishments_app = typer.Typer(help="Establishments and their users.", no_args_is_help=True)
app.add_typer(establishments_app, name="establishments")
campaign_app = typer.Typer(help="The yearly acquisition campaign.", no_args_is_help=True)
app.add_typer(campaign_app, name="campaign")
decrements_app = typer.Typer(help="Decrement files.", no_args_is_help=True)
app.add_typer(decrements_app, name="decrements")
demo_app = typer.Typer(
    help="A synthetic population, deterministic from a seed.", no_args_is_help=True
)
app.add_typer(demo_app, name="demo")
audit_app = typer.Typer(help="Prove the log is complete and unaltered.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
db_app = typer.Typer(help="Database setup (PostgreSQL).", no_args_is_help=True)
app.add_typer(db_app, name="db")
CLI = Provenance("cli", Channel.CLI)
CLI_OPERATOR = Principal(role="operator", name="cli", key_id="cli")


@contextmanager
def _file_progress(path: Path) -> Iterator[Callable[[int, int], None]]:
    """A progress bar over a file's bytes with lines/s and ETA; yields the callback to report
    (bytes read, lines read)."""
    started = time.monotonic()
    with Progress(
        TextColumn(f"[bold]{path.name}"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[lines]:>10,} lines"),
        TextColumn("{task.fields[rate]:>8,.0f} lines/s"),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        task = progress.add_task(path.name, total=path.stat().st_size, lines=0, rate=0)

        def report(offset: int, lines: int) -> None:
            elapsed = max(time.monotonic() - started, 1e-6)
            progress.update(task, completed=offset, lines=lines, rate=lines / elapsed)

        yield report
        progress.update(task, completed=path.stat().st_size)


console = Console()


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on"),
    port: int = typer.Option(8000, help="TCP port"),
    workers: int = typer.Option(1, help="uvicorn worker processes"),
) -> None:
    """Serve the HTTP API with uvicorn (store chosen by LEDGER_DATABASE_URL)."""
    import uvicorn

    from api.observability import configure_logging

    configure_logging()
    uvicorn.run("api.main:app", host=host, port=port, workers=workers, log_config=None)


def _view_names(view: str | None) -> list[str]:
    if view is None:
        return list(VIEWS)
    if view not in VIEWS:
        raise typer.BadParameter(f"unknown view {view!r}; views: {', '.join(VIEWS)}")
    return [view]


@projections_app.command("status")
def projections_status() -> None:
    """Each view's position, the log head, and the lag in events and seconds."""
    projector = Projector(Ledger())
    table = Table("view", "generation", "position", "head", "lag (events)", "lag (s)", "rebuild")
    for s in projector.status():
        rebuild = (
            f"g{s.rebuilding_generation} at {s.rebuilding_position}"
            if s.rebuilding_generation
            else "-"
        )
        table.add_row(
            s.view,
            str(s.generation),
            str(s.position),
            str(s.head),
            str(s.lag_events),
            f"{s.lag_seconds:.1f}",
            rebuild,
        )
    console.print(table)


@contextmanager
def _events_progress(label: str, total: int) -> Iterator[Callable[[int, int], None]]:
    """A progress bar over log positions with events/s (since the first report, so a resumed
    run shows its own pace) and ETA; yields the callback to report (position, log head)."""
    first: list[tuple[int, float]] = []
    with Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>10,.0f} events/s"),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        task = progress.add_task(label, total=total, rate=0)

        def report(position: int, head: int) -> None:
            if not first:
                first.append((position, time.monotonic()))
            elapsed = max(time.monotonic() - first[0][1], 1e-6)
            progress.update(
                task, completed=position, total=head, rate=(position - first[0][0]) / elapsed
            )

        yield report


@projections_app.command("rebuild")
def projections_rebuild(
    view: str | None = typer.Argument(None, help="One view (default: all)"),
    page_size: int = typer.Option(1000, min=1, max=5000, help="Events per transaction"),
) -> None:
    """Build fresh views beside the live ones and swap them in when caught up.

    Ctrl-C stops it; running it again resumes where it stopped.
    """
    names = _view_names(view)
    projector = Projector(Ledger(), page_size=page_size)
    started = time.monotonic()
    with _events_progress(f"rebuild {','.join(names)}", projector.head()) as report:
        try:
            projector.rebuild(names, progress=report)
        except KeyboardInterrupt:
            console.print("[yellow]interrupted: run the same command again to resume")
            raise typer.Exit(130) from None
    console.print(f"rebuilt {', '.join(names)} in {time.monotonic() - started:.1f} s")


@projections_app.command("check")
def projections_check(
    view: str | None = typer.Argument(None, help="One view (default: all)"),
) -> None:
    """Recompute the views from the events and report every difference (exit 1 if any)."""
    differences = Projector(Ledger()).check(_view_names(view))
    for d in differences:
        console.print(
            f"[red]{d.view}[/red] {d.problem} {d.key}: expected {d.expected}, found {d.found}"
        )
    if differences:
        console.print(f"[red]{len(differences)} difference(s)")
        raise typer.Exit(1)
    console.print("[green]views match the events")


@projections_app.command("run")
def projections_run(
    checkpoint_every: int = typer.Option(
        0, min=0, help="Also sign an audit checkpoint every N minutes (0: never)"
    ),
) -> None:
    """Follow the event log and keep the live views up to date (the projection worker)."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    ledger = Ledger()
    projector = Projector(ledger)
    if checkpoint_every:
        threading.Thread(
            target=_checkpoints,
            args=(ledger, projector, stop, checkpoint_every),
            name="checkpoints",
            daemon=True,
        ).start()
    console.print("projection worker following the event log (Ctrl-C to stop)")
    try:
        projector.follow(stop)
    except KeyboardInterrupt:
        stop.set()


def _fail(error: DomainError) -> typer.Exit:
    console.print(f"[red]{error.code}[/red]: {error.message}")
    return typer.Exit(2)


@keys_app.command("issue")
def keys_issue(
    role: Role = typer.Option(..., help="operator, auditor or employer"),
    name: str = typer.Option(..., help="Who the key is for"),
    siret: str | None = typer.Option(None, help="Employer keys: the user's establishment"),
    user_id: str | None = typer.Option(None, help="Employer keys: the user"),
    label: str = typer.Option("", help="A note, e.g. the HR software using it"),
) -> None:
    """Issue an API key and print it once (it is stored hashed and cannot be shown again)."""
    try:
        token, key_id = AccessService(Ledger()).issue_key(
            role, name, CLI, siret=siret, user_id=user_id, label=label
        )
    except DomainError as error:
        raise _fail(error) from None
    console.print(f"key id: {key_id.hex}")
    typer.echo(token)


@keys_app.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke an API key."""
    import uuid

    try:
        AccessService(Ledger()).revoke_key(uuid.UUID(key_id), CLI)
    except DomainError as error:
        raise _fail(error) from None
    console.print("revoked")


@establishments_app.command("register")
def establishments_register(siret: str, name: str) -> None:
    """Register an establishment (SIRET and name)."""
    try:
        AccessService(Ledger()).register_establishment(siret, name, CLI)
    except DomainError as error:
        raise _fail(error) from None
    console.print(f"registered {siret}")


@establishments_app.command("add-user")
def establishments_add_user(
    siret: str, name: str, profile: Profile = typer.Option(Profile.CONSULTATION)
) -> None:
    """Give a user a profile on an establishment; prints the user id."""
    try:
        user_id = AccessService(Ledger()).grant_user(siret, name, profile, CLI)
    except DomainError as error:
        raise _fail(error) from None
    typer.echo(user_id)


@campaign_app.command("import")
def campaign_import(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV of declaration lines"),
) -> None:
    """Import a campaign file: streamed, applied in chunks, each line exactly once."""
    from ledger.campaign import import_campaign

    with _file_progress(file) as report:
        try:
            result = import_campaign(Ledger(), file, "operator:cli", progress=report)
        except DomainError as error:
            raise _fail(error) from None
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


@decrements_app.command("deposit")
def decrements_deposit(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="`;`-separated CSV"),
    report_csv: Path | None = typer.Option(None, "--report", help="Write the report as CSV"),
) -> None:
    """Deposit a decrement file as an operator; prints the summary (and writes the report)."""
    from api.exports import csv_lines
    from ledger.deposits import REPORT_COLUMNS, deposit_file

    with _file_progress(file) as report:
        try:
            deposit = deposit_file(
                Ledger(), file, file.name, "operator:cli", "operator", None, progress=report
            )
        except DomainError as error:
            raise _fail(error) from None
    summary = deposit.summary()
    console.print(summary)
    if report_csv:
        with report_csv.open("wb") as out:
            for chunk in csv_lines(REPORT_COLUMNS, deposit.lines):
                out.write(chunk)
        console.print(f"report written to {report_csv}")


def _checkpoints(ledger: Ledger, projector: Projector, stop: threading.Event, minutes: int) -> None:
    """Sign a checkpoint every ``minutes`` while the worker runs."""
    from dataclasses import asdict

    from ledger.audit import make_checkpoint, private_key
    from projections.trail import CheckpointStore

    store = CheckpointStore(projector.store)
    key = private_key(ledger.settings.checkpoint_signing_seed)
    while not stop.wait(minutes * 60):
        try:
            store.add(asdict(make_checkpoint(ledger.recorder, key)))
        except ValueError as error:  # a broken chain is not signed: say so loudly
            console.print(f"[red]no checkpoint: {error}")


@app.command("export")
def export(
    siret: str,
    year: int = typer.Option(..., help="Acquisition year (the extraction scope)"),
    format: str = typer.Option("csv", help="csv or xlsx"),
    output: Path | None = typer.Option(None, help="File to write (default: standard output)"),
) -> None:
    """The yearly extraction of a SIRET: identity, balance, ceiling and history of each agent."""
    from api.exports import csv_lines, xlsx_chunks
    from ledger.identifiers import Siret
    from projections.extraction import COLUMNS, extraction_rows
    from projections.queries import Queries

    if format not in ("csv", "xlsx"):
        raise typer.BadParameter("format is csv or xlsx")
    ledger = Ledger()
    projector = Projector(ledger)
    projector.catch_up()
    try:
        from projections.trail import ReadTrail

        trail = ReadTrail(projector.store)

        def trailed(rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
            seen: set[str] = set()
            for row in rows:
                if row["agent_id"] not in seen:
                    seen.add(row["agent_id"])
                    trail.record("cli", "cli:export", [row["agent_id"]])
                yield row

        rows = trailed(
            extraction_rows(
                Queries(projector.store), ledger, CLI_OPERATOR, Siret.parse(siret).value, year
            )
        )
        chunks = xlsx_chunks(COLUMNS, rows) if format == "xlsx" else csv_lines(COLUMNS, rows)
        out = output.open("wb") if output else sys.stdout.buffer
        for chunk in chunks:
            out.write(chunk)
        if output:
            out.close()
    except DomainError as error:
        raise _fail(error) from None


@demo_app.command("generate")
def demo_generate(
    directory: Path,
    agents: int = typer.Option(1000, min=1),
    establishments: int = typer.Option(20, min=1),
    seed: int = typer.Option(2026),
    last_year: int = typer.Option(2025),
) -> None:
    """Write campaign and decrement files of a synthetic population."""
    from ledger.demo import generate, write_files

    for path in write_files(generate(agents, establishments, seed, last_year), directory):
        console.print(f"wrote {path}")


@demo_app.command("load")
def demo_load(
    agents: int = typer.Option(300, min=1),
    establishments: int = typer.Option(12, min=1),
    seed: int = typer.Option(2026),
    last_year: int = typer.Option(2025),
    if_empty: bool = typer.Option(False, help="Do nothing if the store already holds events"),
) -> None:
    """Generate a synthetic population and load it (campaigns, decrement files, movements)."""
    import tempfile

    from ledger.demo import generate, load

    ledger = Ledger()
    if if_empty and (ledger.recorder.max_notification_id() or 0) > 0:
        console.print("the store is not empty: no demo population loaded")
        return
    population = generate(agents, establishments, seed, last_year)
    with tempfile.TemporaryDirectory() as directory:
        result = load(ledger, population, Path(directory), say=console.print)
    Projector(ledger).catch_up()
    console.print(
        f"[green]loaded a demo population[/green]: {agents} agents, "
        f"{result.establishments} establishments, {result.campaign_lines} campaign lines, "
        f"{result.decrement_lines} decrements, {result.operator_movements} other movements, "
        f"{result.events} events in all"
    )


@audit_app.command("verify")
def audit_verify(
    checkpoint: list[Path] = typer.Option(
        [], "--checkpoint", exists=True, help="Exported checkpoint files the log must extend"
    ),
    trusted_key: str | None = typer.Option(None, help="The public key checkpoints must carry"),
    sample: int = typer.Option(0, min=0, help="Also check this many agents' balances vs replay"),
) -> None:
    """Recompute the hash chain from the start; exit 1 at the first break."""
    import random
    import uuid

    from ledger.audit import Checkpoint, check_checkpoint, replay_agent, verify_chain

    ledger = Ledger()
    head = ledger.recorder.max_notification_id() or 0
    with _events_progress("verify", head) as report:
        result = verify_chain(ledger.recorder, progress=lambda position: report(position, head))
        report(result.head_position, head)
    failures = 0
    if result.first_break:
        b = result.first_break
        console.print(f"[red]broken at position {b.position}: {b.problem}[/red] ({b.detail})")
        failures += 1
    else:
        console.print(
            f"[green]chain intact[/green]: {result.checked} events, head "
            f"{result.head_chain[:16]}… at position {result.head_position}"
        )
    for path in checkpoint:
        problem = check_checkpoint(ledger.recorder, Checkpoint.load(path.read_bytes()), trusted_key)
        if problem:
            failures += 1
            console.print(f"[red]{path.name}: {problem}[/red]")
        else:
            console.print(f"[green]{path.name}: the log extends this checkpoint[/green]")
    if sample:
        projector = Projector(ledger)
        projector.catch_up()
        from projections.queries import Queries

        queries = Queries(projector.store)
        with projector.store.transaction(write=False) as cur:
            ids = [row[0] for row in cur.execute("SELECT agent_id FROM balances").fetchall()]
        for agent_hex in random.sample(ids, min(sample, len(ids))):
            replayed = replay_agent(ledger, uuid.UUID(agent_hex))
            shown = queries.balance(CLI_OPERATOR, agent_hex)
            if (replayed["balance"], replayed["reserve"]) != (shown["balance"], shown["reserve"]):
                failures += 1
                console.print(
                    f"[red]agent {agent_hex}: views {shown['balance']} h, "
                    f"events {replayed['balance']} h[/red]"
                )
        console.print(f"sampled {min(sample, len(ids))} agents against a replay of their events")
    if failures:
        raise typer.Exit(1)


@audit_app.command("checkpoint")
def audit_checkpoint(
    export: Path | None = typer.Option(None, help="Write the signed checkpoint to this file"),
) -> None:
    """Sign the current chain head (after verifying the chain)."""
    from dataclasses import asdict

    from ledger.audit import make_checkpoint, private_key
    from projections.store import ViewStore
    from projections.trail import CheckpointStore

    ledger = Ledger()
    try:
        checkpoint = make_checkpoint(
            ledger.recorder, private_key(ledger.settings.checkpoint_signing_seed)
        )
    except ValueError as error:
        console.print(f"[red]{error}")
        raise typer.Exit(1) from None
    CheckpointStore(ViewStore(ledger.settings)).add(asdict(checkpoint))
    if export:
        export.write_bytes(checkpoint.export())
    console.print(
        f"checkpoint at position {checkpoint.position}, chain "
        f"{checkpoint.chain[:16]}…, key {checkpoint.public_key}"
    )


@audit_app.command("chain-existing")
def audit_chain_existing() -> None:
    """Migration: chain events recorded before the chain existed (stop writers first)."""
    from ledger.audit import chain_existing

    ledger = Ledger()  # keep it: an Application closes its pool when collected
    console.print(f"chained {chain_existing(ledger.recorder)} events")


@audit_app.command("replay")
def audit_replay(
    agent_id: str,
    as_of: str | None = typer.Option(None, help="Effective date (YYYY-MM-DD)"),
    known_at: str | None = typer.Option(None, help="Recorded time (ISO 8601)"),
) -> None:
    """An agent's counter and history from the events, and whether the views agree."""
    import uuid
    from datetime import UTC, date, datetime

    from ledger.audit import replay_agent
    from projections.queries import Queries
    from projections.trail import ReadTrail

    ledger = Ledger()
    when = datetime.fromisoformat(known_at) if known_at else None
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    day = date.fromisoformat(as_of) if as_of else None
    result = replay_agent(ledger, uuid.UUID(agent_id), day, when)
    projector = Projector(ledger)
    projector.catch_up()
    shown = Queries(projector.store).balance(
        CLI_OPERATOR, uuid.UUID(agent_id).hex, day, when.isoformat() if when else None
    )
    ReadTrail(projector.store).record("cli", "cli:audit replay", [uuid.UUID(agent_id).hex])
    table = Table("position", "effective", "recorded", "kind", "hours", "balance", "by")
    for m in result["movements"]:
        table.add_row(
            str(m["position"]),
            m["effective_date"],
            m["recorded_at"][:19],
            m["kind"],
            str(m["hours"]),
            str(m["balance_after"]),
            str(m["provenance"]["principal"]),
        )
    console.print(table)
    console.print(f"balance from the events: {result['balance']} h, reserve {result['reserve']} h")
    if (shown["balance"], shown["reserve"]) != (result["balance"], result["reserve"]):
        console.print(f"[red]the views show {shown['balance']} h, reserve {shown['reserve']} h")
        raise typer.Exit(1)
    console.print("[green]the views agree")


@audit_app.command("trail")
def audit_trail(
    agent_id: str | None = typer.Option(None, "--agent", help="Who saw this agent"),
    principal: str | None = typer.Option(None, "--principal", help="What this principal saw"),
) -> None:
    """The read trail: who saw an agent, or what a principal saw."""
    import uuid

    from projections.store import ViewStore
    from projections.trail import ReadTrail

    if not agent_id and not principal:
        raise typer.BadParameter("give --agent or --principal")
    rows = ReadTrail(ViewStore(Ledger().settings)).query(
        uuid.UUID(agent_id).hex if agent_id else None, principal
    )
    table = Table("at", "principal", "via", "agent")
    for row in rows:
        table.add_row(row["at"][:19], row["principal"], row["via"], row["agent_id"])
    console.print(table)


@db_app.command("setup")
def db_setup(
    app_role: str = typer.Option("cpf_app", help="The service's role, to create or update"),
    password: str | None = typer.Option(None, help="Its password (or set it yourself)"),
) -> None:
    """As the database owner: create the event tables, then the service's role, which may append
    events but never UPDATE, DELETE or TRUNCATE them. Run the service with
    LEDGER_CREATE_TABLES=false and the role in LEDGER_DATABASE_URL."""
    from ledger.stores import create_app_role

    ledger = Ledger()  # creates the event and chain tables, owned by the owner
    if not ledger.settings.database_url:
        raise typer.BadParameter("LEDGER_DATABASE_URL must name the PostgreSQL database")
    # The views' tables are left to the service, which creates and rebuilds them as their owner.
    create_app_role(
        ledger.settings.database_url,
        app_role,
        password,
        getattr(ledger.recorder, "events_table_name", "ledger_events"),
    )
    console.print(f"tables ready; role {app_role} may append events and never change them")
