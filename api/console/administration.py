"""Administration (administration profile, and operators): an establishment's people (enable,
deactivate, reactivate, reset, a habilitation file), its API keys, and its delegations.

The same service calls and scope decisions as ``/v1/users``, ``/v1/user-files``, ``/v1/keys``
and ``/v1/delegations``. A secret (an activation code, a key) is shown once, on the page that
answers the form, and never put in a URL; a form sent again is answered without it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

from fastapi import File, Form, Query, Request, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from api.accounts.schemas import AccountIn
from api.auth import Administrator, Svc
from api.bootstrap import Services
from api.console.web import console_router, render, see_other
from api.console.writes import body, console_provenance, once
from ledger.domain import errors
from ledger.domain.access import Principal, Profile, Role
from ledger.domain.identifiers import Siret
from ledger.files.habilitation import deposit_users
from projections import scope

router = console_router()
Text = Annotated[str, Form(max_length=200)]
Key = Annotated[str, Form(max_length=100)]
ANSWERS = {"acceptation": "accepted", "refus": "refused", "revocation": "revoked"}


def _siret(principal: Principal, asked: str | None) -> str | None:
    return scope.console_siret(principal, Siret.parse(asked).value if asked else None)


@router.get("/administration")
def administration(
    request: Request,
    principal: Administrator,
    svc: Svc,
    siret: Annotated[str | None, Query(max_length=20)] = None,
    fait: Annotated[str | None, Query(max_length=30)] = None,
) -> Response:
    chosen = _siret(principal, siret)
    context: dict[str, Any] = {"siret": chosen, "fait": fait, "profils": list(Profile)}
    if chosen is not None:
        scope.require_account_reader(principal, Role.EMPLOYER, chosen)
        establishment = svc.access.establishment(chosen)
        context.update(
            etablissement=establishment,
            personnes=svc.accounts.accounts_of(chosen),
            utilisateurs=sorted(establishment.users.items(), key=lambda u: u[1]["name"]),
        )
    return render(request, "administration.html", context)


def _back(siret: str, done: str) -> Response:
    return see_other(f"/administration?siret={siret}&fait={done}")


def _shown_once(request: Request, title: str, secret: dict[str, Any], siret: str) -> Response:
    return render(
        request, "administration_secret.html", {"titre": title, "secret": secret, "siret": siret}
    )


@router.post("/administration/personnes")
def enable_person(
    request: Request,
    principal: Administrator,
    svc: Svc,
    siret: Text,
    name: Text,
    email: Text,
    profile: Annotated[str, Form(max_length=20)],
    idempotency_key: Key = "",
) -> Response:
    """Enable a person of the establishment: the activation code is e-mailed, or shown once."""
    account = body(AccountIn, name=name, email=email, siret=siret, profile=profile)
    value = Siret.parse(siret).value
    scope.require_account_manager(principal, Role.EMPLOYER, value)

    def run() -> tuple[int, Any]:
        enabled = svc.accounts.create(
            Role.EMPLOYER,
            account.name,
            account.email,
            console_provenance(request, principal, idempotency_key),
            siret=value,
            profile=account.profile,
        )
        return 201, {
            "user_id": enabled.account.user_id,
            "email": enabled.account.email,
            "activation": enabled.activation.as_dict(),
        }

    answer = once(
        request,
        svc,
        principal,
        idempotency_key,
        account.model_dump(mode="json"),
        run,
        kept=lambda first: {**first, "activation": {**first["activation"], "code": None}},
    )
    return _shown_once(request, "Personne habilitée", answer, value)


def _managed(svc: Services, principal: Principal, user_id: str) -> str:
    account = svc.accounts.account(user_id)
    scope.require_account_manager(principal, account.role, account.siret)
    return str(account.siret)


@router.post("/administration/personnes/{user_id}/desactivation")
def deactivate(user_id: UUID, request: Request, principal: Administrator, svc: Svc) -> Response:
    siret = _managed(svc, principal, str(user_id))
    svc.accounts.deactivate(str(user_id), console_provenance(request, principal, None))
    return _back(siret, "desactivation")


@router.post("/administration/personnes/{user_id}/reactivation")
def reactivate(user_id: UUID, request: Request, principal: Administrator, svc: Svc) -> Response:
    siret = _managed(svc, principal, str(user_id))
    svc.accounts.reactivate(str(user_id), console_provenance(request, principal, None))
    return _back(siret, "reactivation")


@router.post("/administration/personnes/{user_id}/reinitialisation")
def reset(user_id: UUID, request: Request, principal: Administrator, svc: Svc) -> Response:
    """Password and second factor forgotten, sessions ended, a new activation code (shown
    once, unless e-mailed)."""
    siret = _managed(svc, principal, str(user_id))
    activation = svc.accounts.reset(str(user_id), console_provenance(request, principal, None))
    answer = {"user_id": str(user_id), "activation": activation.as_dict()}
    return _shown_once(request, "Compte réinitialisé", answer, siret)


@router.post("/administration/habilitations")
async def habilitation_file(
    request: Request,
    principal: Administrator,
    svc: Svc,
    fichier: Annotated[UploadFile, File()],
) -> Response:
    """A habilitation file (habilitation en masse): every line checked and reported, the
    activation codes of this deposit shown once."""
    allowed = scope.manageable_sirets(principal)
    owner = scope.habilitation_owner(principal)
    where = console_provenance(request, principal, None)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "habilitations"
        path.write_bytes(await fichier.read())
        if path.stat().st_size == 0:
            raise errors.InvalidInput("the file is empty")
        name = (fichier.filename or "habilitations.csv")[:200]
        result = await run_in_threadpool(
            deposit_users, svc.accounts, path, name, where, owner, principal.siret, allowed
        )
    context = {"resume": result.file.summary(), "lignes": result.report()}
    return render(request, "habilitations.html", context)


@router.post("/administration/cles")
def issue_key(
    request: Request,
    principal: Administrator,
    svc: Svc,
    siret: Text,
    user_id: Annotated[str, Form(max_length=40)],
    name: Text,
    idempotency_key: Key = "",
) -> Response:
    """An API key for a user of the establishment (software acting for them): shown once."""
    value = Siret.parse(siret).value
    scope.require_key_issuer(principal, Role.EMPLOYER, value)

    def run() -> tuple[int, Any]:
        token, key_id = svc.access.issue_key(
            Role.EMPLOYER,
            name,
            console_provenance(request, principal, idempotency_key),
            siret=value,
            user_id=user_id,
        )
        return 201, {"key_id": key_id.hex, "token": token}

    answer = once(
        request,
        svc,
        principal,
        idempotency_key,
        {"siret": value, "user_id": user_id, "name": name},
        run,
        kept=lambda first: {**first, "token": None},
    )
    return _shown_once(request, "Clé d'API émise", answer, value)


@router.post("/administration/cles/revocation")
def revoke_key(
    request: Request,
    principal: Administrator,
    svc: Svc,
    key_id: Annotated[UUID, Form()],
) -> Response:
    key = svc.access.key(key_id)
    scope.require_key_revoker(principal, str(key.id), key.siret)
    svc.access.revoke_key(key_id, console_provenance(request, principal, None))
    return _back(str(key.siret or ""), "revocation")


@router.post("/administration/delegations")
def request_delegation(
    request: Request,
    principal: Administrator,
    svc: Svc,
    delegated_siret: Text,
    centraliser_siret: Text = "",
) -> Response:
    """A centraliser asks an establishment to delegate to it (the delegated one answers)."""
    delegated = Siret.parse(delegated_siret).value
    named = Siret.parse(centraliser_siret).value if centraliser_siret else None
    centraliser = scope.delegation_centraliser(principal, named)
    svc.access.change_delegation(
        delegated, centraliser, "requested", console_provenance(request, principal, None)
    )
    return _back(centraliser, "delegation")


@router.post("/administration/delegations/{siret}/{centraliser}/{reponse}")
def answer_delegation(
    siret: str,
    centraliser: str,
    reponse: str,
    request: Request,
    principal: Administrator,
    svc: Svc,
) -> Response:
    """The delegated establishment accepts or refuses; either side revokes (as the API's three
    routes decide)."""
    if reponse not in ANSWERS:
        raise errors.InvalidInput("the answer is acceptation, refus or revocation")
    delegated, central = Siret.parse(siret).value, Siret.parse(centraliser).value
    if reponse == "revocation":
        scope.require_administrator_of(principal, delegated, central)
    else:
        scope.require_administrator_of(principal, delegated)
    svc.access.change_delegation(
        delegated, central, ANSWERS[reponse], console_provenance(request, principal, None)
    )
    return _back(scope.console_siret(principal, None) or delegated, f"delegation_{reponse}")
