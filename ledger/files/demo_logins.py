"""Demo logins for the synthetic population: a newcomer signs in at once after ``make run``.

Development only: the password and the second factor's secret are fixed and printed, so anyone
can sign in to these accounts. ``cpf-ledger demo load`` creates them; ``cpf-ledger demo login``
prints them.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import timedelta

import pyotp

from ledger.accounts_service import AccountService
from ledger.domain.access import Profile, Role
from ledger.domain.provenance import Channel, Provenance

PASSWORD = "démo CPF ledger 2026"
SECRET = base64.b32encode(hashlib.sha256(b"cpf-ledger demo second factor").digest()[:20]).decode()


@dataclass(frozen=True)
class DemoLogin:
    email: str
    name: str
    who: str
    role: Role
    profile: Profile | None = None


def demo_logins(first_siret: str) -> list[DemoLogin]:
    return [
        DemoLogin(
            "rh@etablissement-1.demo.invalid",
            "Claire Rousseau",
            f"administrator of {first_siret}",
            Role.EMPLOYER,
            Profile.ADMINISTRATION,
        ),
        DemoLogin("operateur@cdc.demo.invalid", "Karim Benali", "CDC operator", Role.OPERATOR),
        DemoLogin("auditeur@cdc.demo.invalid", "Sophie Lemaire", "auditor", Role.AUDITOR),
    ]


def create_demo_logins(accounts: AccountService, first_siret: str) -> list[DemoLogin]:
    """Enable and activate the demo people (the ones that exist already are left alone)."""
    source = Provenance("operator:demo", Channel.SYSTEM, "demo")
    made = []
    for login in demo_logins(first_siret):
        if accounts.account_by_email(login.email) is not None:
            continue
        siret = first_siret if login.role is Role.EMPLOYER else None
        enabled = accounts.create(
            login.role,
            login.name,
            login.email,
            source,
            siret=siret,
            profile=login.profile,
        )
        code = enabled.activation.code
        if code is None:  # e-mailed: the demo person activates from the e-mail
            continue
        accounts.start_activation(login.email, code, secret=SECRET)
        # Confirmed with the previous step's code, so the current one signs in at once.
        previous = accounts.now() - timedelta(seconds=30)
        accounts.activate(login.email, code, PASSWORD, pyotp.TOTP(SECRET).at(previous))
        made.append(login)
    return made


def current_code() -> str:
    """The demo second factor's code now."""
    return pyotp.TOTP(SECRET).now()
