"""``cpf-ledger db``: set a PostgreSQL database up for the service."""

from __future__ import annotations

import os

import typer

from api.cli.common import console
from ledger.application import Ledger
from ledger.store.roles import create_app_role
from ledger.store.settings import Settings

app = typer.Typer(help="Database setup (PostgreSQL).", no_args_is_help=True)
PASSWORD_VARIABLE = "CPF_APP_PASSWORD"


@app.command("setup")
def db_setup(
    app_role: str = typer.Option("cpf_app", help="The service's role, to create or update"),
    ask_password: bool = typer.Option(
        False,
        "--ask-password",
        help=f"Prompt for the role's password (else ${PASSWORD_VARIABLE}, else none is set)",
    ),
) -> None:
    """As the database owner: create the event tables, the read trail and the checkpoints, then
    the service's role, which appends to them and never changes them, and owns a schema of its own
    for the views. Run the service with LEDGER_CREATE_TABLES=false and the role in
    LEDGER_DATABASE_URL.

    The password is never a command-line argument (it would show in `ps`)."""
    settings = Settings()
    if not settings.database_url:
        raise typer.BadParameter("LEDGER_DATABASE_URL must name the PostgreSQL database")
    password = (
        typer.prompt("password of the role", hide_input=True, confirmation_prompt=True)
        if ask_password
        else os.environ.get(PASSWORD_VARIABLE)
    )
    ledger = Ledger(settings)  # creates the event and chain tables, owned by the owner
    try:
        create_app_role(
            settings.database_url,
            app_role,
            password,
            getattr(ledger.recorder, "events_table_name", "ledger_events"),
        )
    finally:
        ledger.close()
    console.print(
        f"tables ready; role {app_role} appends events, the read trail and checkpoints, never "
        f"changes them, and keeps the views in schema {app_role}"
    )
