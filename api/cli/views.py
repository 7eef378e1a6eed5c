"""``cpf-ledger projections``: operate the read-side views."""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import asdict

import typer
from rich.table import Table

from api.bootstrap import Services
from api.cli.common import SOME_REJECTED, JsonOption, console, emit_json, events_progress, services
from api.observability import configure_logging
from ledger.audit import make_checkpoint, private_key
from projections import checking
from projections.follower import follow
from projections.views import VIEWS

app = typer.Typer(help="Operate the read-side views.", no_args_is_help=True)


def _view_names(view: str | None) -> list[str]:
    if view is None:
        return list(VIEWS)
    if view not in VIEWS:
        raise typer.BadParameter(f"unknown view {view!r}; views: {', '.join(VIEWS)}")
    return [view]


@app.command("status")
def status(
    check: bool = typer.Option(
        False, "--check", help="Exit 1 when the projector is stuck or a view lags too long"
    ),
    as_json: bool = JsonOption,
) -> None:
    """Each view's position, the log head, the lag in events and seconds, and an event the
    projector cannot apply (a worker's health check: `projections status --check`)."""
    svc = services()
    table = Table("view", "generation", "position", "head", "lag (events)", "lag (s)", "rebuild")
    statuses = svc.projector.status()
    failure = svc.health.current()
    lagging = any(s.lag_seconds > svc.settings.ready_max_lag_seconds for s in statuses)
    if as_json:
        emit_json({"views": [asdict(s) for s in statuses], "stuck": failure, "lagging": lagging})
        if check and (failure is not None or lagging):
            raise typer.Exit(SOME_REJECTED)
        return
    for s in statuses:
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
    if failure is not None:
        console.print(
            f"[red]stuck[/red] at position {failure['failing_position']}: {failure['error']} "
            f"({failure['attempts']} attempts since {failure['since']})"
        )
    if check and (failure is not None or lagging):
        raise typer.Exit(SOME_REJECTED)


@app.command("rebuild")
def rebuild(
    view: str | None = typer.Argument(None, help="One view (default: all)"),
    page_size: int = typer.Option(1000, min=1, max=5000, help="Events per transaction"),
    by_pages: bool = typer.Option(
        False,
        "--by-pages",
        help="PostgreSQL: no first pass over the whole log (one transaction per view, sorted in "
        "temporary files); page by page from the start instead",
    ),
) -> None:
    """Build fresh views beside the live ones and swap them in when caught up.

    Ctrl-C stops it; running it again resumes where it stopped.
    """
    names = _view_names(view)
    projector = services().projector
    projector.page_size = page_size
    projector.first_pass = not by_pages
    started = time.monotonic()
    with events_progress(f"rebuild {','.join(names)}", projector.head()) as report:
        try:
            projector.rebuild(names, progress=report)
        except KeyboardInterrupt:
            console.print("[yellow]interrupted: run the same command again to resume")
            raise typer.Exit(130) from None
    console.print(f"rebuilt {', '.join(names)} in {time.monotonic() - started:.1f} s")


@app.command("check")
def check(
    view: str | None = typer.Argument(None, help="One view (default: all)"),
    as_json: bool = JsonOption,
) -> None:
    """Recompute the views from the events, compare the balances with the write model, and
    report every difference (exit 1 if any)."""
    differences = checking.check(services().projector, _view_names(view))
    if as_json:
        emit_json([asdict(d) for d in differences])
        if differences:
            raise typer.Exit(SOME_REJECTED)
        return
    for d in differences:
        console.print(
            f"[red]{d.view}[/red] {d.problem} {d.key}: expected {d.expected}, found {d.found}"
        )
    if differences:
        console.print(f"[red]{len(differences)} difference(s)")
        raise typer.Exit(1)
    console.print("[green]views match the events")


@app.command("run")
def run(
    checkpoint_every: int = typer.Option(
        0, min=0, help="Also sign an audit checkpoint every N minutes (0: never)"
    ),
) -> None:
    """Follow the event log and keep the live views up to date (the projection worker)."""
    configure_logging()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    svc = services()
    if checkpoint_every:
        threading.Thread(
            target=_checkpoints, args=(svc, stop, checkpoint_every), name="checkpoints", daemon=True
        ).start()
    console.print("projection worker following the event log (Ctrl-C to stop)")
    try:
        follow(svc.projector, stop)
    except KeyboardInterrupt:
        stop.set()


def _checkpoints(svc: Services, stop: threading.Event, minutes: int) -> None:
    """Sign a checkpoint every ``minutes`` while the worker runs."""
    key = private_key(svc.settings.checkpoint_signing_seed)
    while not stop.wait(minutes * 60):
        try:
            svc.checkpoints.add(asdict(make_checkpoint(svc.ledger.recorder, key)))
        except ValueError as error:  # a broken chain is not signed: say so loudly
            console.print(f"[red]no checkpoint: {error}")
