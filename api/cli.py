"""The ``cpf-ledger`` command line (typer + rich)."""

from __future__ import annotations

import signal
import threading
import time

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
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
CLI = Provenance("cli", Channel.CLI)
console = Console()


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on"),
    port: int = typer.Option(8000, help="TCP port"),
    workers: int = typer.Option(1, help="uvicorn worker processes"),
) -> None:
    """Serve the HTTP API with uvicorn (store chosen by LEDGER_DATABASE_URL)."""
    import uvicorn

    uvicorn.run("api.main:app", host=host, port=port, workers=workers)


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
    with Progress(
        TextColumn("[bold]rebuild {task.fields[views]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>10,.0f} events/s"),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("rebuild", total=projector.head(), views=",".join(names), rate=0)
        first: list[int] = []

        def report(position: int, head: int) -> None:
            if not first:
                first.append(position)
            elapsed = max(time.monotonic() - started, 1e-6)
            progress.update(
                task, completed=position, total=head, rate=(position - first[0]) / elapsed
            )

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
def projections_run() -> None:
    """Follow the event log and keep the live views up to date (the projection worker)."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    projector = Projector(Ledger())
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
