"""The ``cpf-ledger`` command line (typer + rich), one module per area."""

from __future__ import annotations

import typer

from api.cli import access, audit, db, files, users, views

app = typer.Typer(
    help="CPF Ledger: training-hour counters of French public agents.", no_args_is_help=True
)
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

    from api.observability import configure_logging
    from ledger.store.settings import Settings

    if not Settings().session_cookie_secure and host not in ("127.0.0.1", "localhost", "::1"):
        raise typer.BadParameter("LEDGER_SESSION_COOKIE_SECURE=false is for 127.0.0.1 only")

    configure_logging()
    uvicorn.run("api.main:app", host=host, port=port, workers=workers, log_config=None)
