"""The ``cpf-ledger`` command line (typer + rich), one module per area."""

from __future__ import annotations

import sys
from importlib import metadata

import psycopg
import typer
from eventsourcing.persistence import InterfaceError, OperationalError
from psycopg_pool import PoolTimeout
from rich.console import Console

from api.cli import access, audit, db, files, users, views
from api.cli.common import STORE_UNAVAILABLE

STORE_ERRORS = (
    psycopg.OperationalError,
    psycopg.InterfaceError,
    PoolTimeout,
    OperationalError,
    InterfaceError,
)

app = typer.Typer(
    help="CPF Ledger: training-hour counters of French public agents.\n\n"
    "Exit codes: 0 done (every line applied), 1 some lines rejected or a check failed, "
    "2 unusable input (a bad file, option or value), 3 the store is unavailable.",
    no_args_is_help=True,
)


def _version(shown: bool) -> None:
    if shown:
        typer.echo(f"cpf-ledger {metadata.version('cpf-ledger')}")
        raise typer.Exit()


@app.callback()
def options(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit"
    ),
) -> None:
    """CPF Ledger: training-hour counters of French public agents."""


def main() -> None:
    """The `cpf-ledger` command: a store that cannot be reached exits 3, never a traceback
    (typer turns bad options into exit 2 and a command's own exit code passes through)."""
    try:
        app()
    except STORE_ERRORS as error:
        Console(stderr=True).print(
            f"[red]store_unavailable[/red]: the store cannot be reached ({type(error).__name__});"
            " retry later"
        )
        sys.exit(STORE_UNAVAILABLE)


app.add_typer(views.app, name="projections")
app.add_typer(access.keys, name="keys")
app.add_typer(access.establishments, name="establishments")
app.add_typer(users.app, name="users")
app.add_typer(files.campaign, name="campaign")
app.add_typer(files.decrements, name="decrements")
app.add_typer(files.demo, name="demo")
app.add_typer(audit.app, name="audit")
app.add_typer(db.app, name="db")
app.command("export")(files.export)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on"),
    port: int = typer.Option(8000, help="TCP port"),
    workers: int = typer.Option(1, help="uvicorn worker processes"),
) -> None:
    """Serve the HTTP API with uvicorn (store chosen by LEDGER_DATABASE_URL)."""
    import uvicorn

    from api.observability import configure_logging, prepare_multiprocess
    from ledger.store.settings import Settings

    if not Settings().session_cookie_secure and host not in ("127.0.0.1", "localhost", "::1"):
        raise typer.BadParameter("LEDGER_SESSION_COOKIE_SECURE=false is for 127.0.0.1 only")

    configure_logging()
    prepare_multiprocess(workers)  # before the workers import their metrics
    uvicorn.run("api.main:app", host=host, port=port, workers=workers, log_config=None)
