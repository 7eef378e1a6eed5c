"""``cpf-ledger users``: people's accounts, for operators bootstrapping a deployment.

Codes, secrets and recovery codes are printed once (they are stored hashed, or not at all).
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from api.cli.common import CLI, console, fail, services
from ledger.accounts_service import Activation
from ledger.domain.access import Profile, Role
from ledger.domain.accounts import Account
from ledger.domain.errors import DomainError

app = typer.Typer(
    help="People's accounts (bootstrap the first operator here).", no_args_is_help=True
)


def _account(who: str) -> Account:
    """An account by e-mail address or user id."""
    accounts = services().accounts
    found = accounts.account_by_email(who) if "@" in who else accounts.account(who)
    if found is None:
        raise typer.BadParameter("no account with this e-mail address")
    return found


def _show(activation: Activation) -> None:
    if activation.code is None:
        console.print(f"activation code e-mailed to {activation.sent_to}")
    else:
        console.print("activation code (shown once):")
        typer.echo(activation.code)
    console.print(f"valid until {activation.expires_at:%Y-%m-%d %H:%M} UTC")


@app.command("create")
def create(
    email: str = typer.Option(..., help="The person's e-mail address (their login)"),
    name: str = typer.Option(..., help="The person's name"),
    role: Role = typer.Option(Role.OPERATOR, help="operator, auditor or employer"),
    siret: str | None = typer.Option(None, help="Employers: the establishment"),
    profile: Profile | None = typer.Option(None, help="Employers: the profile"),
) -> None:
    """Enable a person; prints the user id and the activation code (unless e-mailed)."""
    try:
        enabled = services().accounts.create(role, name, email, CLI, siret=siret, profile=profile)
    except DomainError as error:
        raise fail(error) from None
    console.print(f"user id: {enabled.account.user_id}")
    _show(enabled.activation)


@app.command("activate-code")
def activate_code(
    who: str = typer.Argument(..., help="E-mail address or user id"),
    reset: bool = typer.Option(False, help="Reset an active account first (password forgotten)"),
) -> None:
    """A new activation code for an account (the earlier one stops working)."""
    accounts = services().accounts
    try:
        account = _account(who)
        if reset:
            _show(accounts.reset(account.user_id, CLI))
        else:
            _show(accounts.issue_activation(account.user_id, CLI))
    except DomainError as error:
        raise fail(error) from None


@app.command("activate")
def activate(email: str = typer.Argument(..., help="The e-mail address of the account")) -> None:
    """Activate an account here (for the first operator, before any page exists): the code,
    a password, then a code from the second factor shown as a QR code."""
    import segno

    accounts = services().accounts
    code = typer.prompt("activation code", hide_input=True)
    try:
        enrolment = accounts.start_activation(email, code)
        console.print("Scan this with an authenticator application, or type the secret:")
        segno.make(enrolment.uri, error="m").terminal(compact=True)
        console.print(enrolment.secret)
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
        totp = typer.prompt("code shown by the authenticator")
        recovery = accounts.activate(email, code, password, totp)
    except DomainError as error:
        raise fail(error) from None
    console.print("[green]activated[/green]. Recovery codes (shown once, keep them safe):")
    for line in recovery:
        typer.echo(line)


@app.command("deactivate")
def deactivate(who: str = typer.Argument(..., help="E-mail address or user id")) -> None:
    """Deactivate an account: it cannot sign in and its sessions end at once."""
    try:
        services().accounts.deactivate(_account(who).user_id, CLI)
    except DomainError as error:
        raise fail(error) from None
    console.print("deactivated")


@app.command("reactivate")
def reactivate(who: str = typer.Argument(..., help="E-mail address or user id")) -> None:
    """Reactivate a deactivated account."""
    try:
        services().accounts.reactivate(_account(who).user_id, CLI)
    except DomainError as error:
        raise fail(error) from None
    console.print("reactivated")


@app.command("import")
def import_users(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="name;email;profile;siret"),
    report_csv: Path | None = typer.Option(
        None, "--report", help="Write the report (with the activation codes) as CSV"
    ),
) -> None:
    """Enable the people of a habilitation file as an operator; prints the report and the
    activation codes, once."""
    from api.exports import HABILITATION_REPORT, csv_lines
    from ledger.files.habilitation import deposit_users

    try:
        result = deposit_users(services().accounts, file, file.name, CLI, "operator", None, None)
    except DomainError as error:
        raise fail(error) from None
    console.print(result.file.summary())
    rows = [
        {**line, "activation": (line["activation"] or {}).get("code") or ""}
        for line in result.report()
    ]
    table = Table("line", "status", "code", "email", "activation code")
    for row in rows:
        table.add_row(
            str(row["line"]),
            row["status"],
            row["code"] or "",
            row.get("email") or "",
            row["activation"],
        )
    console.print(table)
    if report_csv:
        with report_csv.open("wb") as out:
            for chunk in csv_lines(HABILITATION_REPORT, rows):
                out.write(chunk)
        console.print(f"report written to {report_csv}")


@app.command("list")
def list_accounts(siret: str = typer.Argument(..., help="The establishment")) -> None:
    """The accounts of an establishment's people."""
    try:
        found = services().accounts.accounts_of(siret)
    except DomainError as error:
        raise fail(error) from None
    table = Table("user id", "name", "e-mail", "profile", "status", "last login")
    for account in found:
        table.add_row(
            account["user_id"],
            account["name"],
            account["email"],
            account["profile"] or "",
            account["status"],
            account["last_login"] or "",
        )
    console.print(table)
