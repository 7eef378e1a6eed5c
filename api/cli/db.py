"""``cpf-ledger db``: set a PostgreSQL database up for the service."""

from __future__ import annotations

import typer

from api.cli.common import console, services
from ledger.store.roles import create_app_role

app = typer.Typer(help="Database setup (PostgreSQL).", no_args_is_help=True)


@app.command("setup")
def db_setup(
    app_role: str = typer.Option("cpf_app", help="The service's role, to create or update"),
    password: str | None = typer.Option(None, help="Its password (or set it yourself)"),
) -> None:
    """As the database owner: create the event tables, then the service's role, which may append
    events but never UPDATE, DELETE or TRUNCATE them. Run the service with
    LEDGER_CREATE_TABLES=false and the role in LEDGER_DATABASE_URL."""
    ledger = services().ledger  # creates the event and chain tables, owned by the owner
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
