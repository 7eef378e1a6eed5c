"""The ``cpf-ledger`` command line (typer)."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="CPF Ledger: training-hour counters of French public agents.", no_args_is_help=True
)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on"),
    port: int = typer.Option(8000, help="TCP port"),
    workers: int = typer.Option(1, help="uvicorn worker processes"),
) -> None:
    """Serve the HTTP API with uvicorn (store chosen by LEDGER_DATABASE_URL)."""
    import uvicorn

    uvicorn.run("api.main:app", host=host, port=port, workers=workers)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo("cpf-ledger 0.1.0")
