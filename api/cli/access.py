"""``cpf-ledger keys`` and ``cpf-ledger establishments``: bootstrap a deployment's access."""

from __future__ import annotations

import uuid

import typer

from api.cli.common import CLI, console, fail, services
from ledger.domain.access import Profile, Role
from ledger.domain.errors import DomainError

keys = typer.Typer(help="API keys (bootstrap the first operator here).", no_args_is_help=True)
establishments = typer.Typer(help="Establishments and their users.", no_args_is_help=True)


@keys.command("issue")
def keys_issue(
    role: Role = typer.Option(..., help="operator, auditor or employer"),
    name: str = typer.Option(..., help="Who the key is for"),
    siret: str | None = typer.Option(None, help="Employer keys: the user's establishment"),
    user_id: str | None = typer.Option(None, help="Employer keys: the user"),
    label: str = typer.Option("", help="A note, e.g. the HR software using it"),
) -> None:
    """Issue an API key and print it once (it is stored hashed and cannot be shown again)."""
    try:
        token, key_id = services().access.issue_key(
            role, name, CLI, siret=siret, user_id=user_id, label=label
        )
    except DomainError as error:
        raise fail(error) from None
    console.print(f"key id: {key_id.hex}")
    typer.echo(token)


@keys.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke an API key."""
    try:
        services().access.revoke_key(uuid.UUID(key_id), CLI)
    except DomainError as error:
        raise fail(error) from None
    console.print("revoked")


@establishments.command("register")
def establishments_register(siret: str, name: str) -> None:
    """Register an establishment (SIRET and name)."""
    try:
        services().access.register_establishment(siret, name, CLI)
    except DomainError as error:
        raise fail(error) from None
    console.print(f"registered {siret}")


@establishments.command("add-user")
def establishments_add_user(
    siret: str, name: str, profile: Profile = typer.Option(Profile.CONSULTATION)
) -> None:
    """Give a user a profile on an establishment; prints the user id."""
    try:
        user_id = services().access.grant_user(siret, name, profile, CLI)
    except DomainError as error:
        raise fail(error) from None
    typer.echo(user_id)
