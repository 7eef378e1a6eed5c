"""Establishments, their users and delegations, and API keys."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Request

from api.auth import Authenticated, forbid, require_operator
from api.idempotency import IdempotencyKey, idempotent
from api.routes.common import provenance
from api.schemas import (
    DelegationIn,
    EstablishmentIn,
    EstablishmentOut,
    KeyIn,
    KeyOut,
    Me,
    UserIn,
    UserOut,
)
from api.services import Services, services
from ledger import errors
from ledger.access import Establishment, Profile, Role
from ledger.identifiers import Siret
from projections.queries import Principal

router = APIRouter(prefix="/v1", tags=["access"])
Svc = Annotated[Services, Depends(services)]


def _out(establishment: Establishment) -> dict[str, object]:
    return {
        "siret": establishment.siret,
        "name": establishment.name,
        "users": establishment.users,
        "delegations": establishment.delegations,
        "delegates": sorted(establishment.delegates),
    }


def _require_admin_of(principal: Principal, *sirets: str) -> None:
    """Operators manage every establishment; an employer administrator its own only. An
    establishment outside the caller's SIRETs answers 404, as if it did not exist."""
    if principal.role == Role.OPERATOR:
        return
    if principal.role != Role.EMPLOYER:
        raise forbid("auditors read, they never write")
    if principal.siret not in sirets:
        if not any(s in principal.sirets for s in sirets):
            raise errors.EstablishmentNotFound("no such establishment")
        raise forbid("only an administrator of this establishment may do this")
    if principal.profile != Profile.ADMINISTRATION:
        raise forbid("this needs the administration profile")


@router.get("/me", response_model=Me, tags=["access"], summary="Who the API key belongs to")
def me(principal: Authenticated) -> Me:
    return Me(
        role=principal.role,
        name=principal.name,
        key_id=principal.key_id,
        siret=principal.siret,
        profile=principal.profile,
        sirets=sorted(principal.sirets),
    )


@router.post(
    "/establishments",
    status_code=201,
    response_model=EstablishmentOut,
    summary="Register an establishment (operator)",
)
def register_establishment(
    body: EstablishmentIn,
    request: Request,
    principal: Authenticated,
    svc: Svc,
    idempotency_key: IdempotencyKey = None,
) -> object:
    require_operator(principal)
    return idempotent(
        request,
        svc.idempotency,
        principal,
        idempotency_key,
        body.model_dump(),
        lambda: (
            201,
            _out(
                svc.access.register_establishment(
                    body.siret, body.name, provenance(request, principal, idempotency_key)
                )
            ),
        ),
    )


@router.get(
    "/establishments/{siret}",
    response_model=EstablishmentOut,
    summary="An establishment, its users and delegations",
)
def get_establishment(siret: str, principal: Authenticated, svc: Svc) -> object:
    value = Siret.parse(siret).value
    if not principal.reads_everything and value not in principal.sirets:
        raise errors.EstablishmentNotFound("no such establishment")
    return _out(svc.access.establishment(value))


@router.post(
    "/establishments/{siret}/users",
    status_code=201,
    response_model=UserOut,
    summary="Give a user a profile on this SIRET (its administrator, or an operator)",
)
def grant_user(
    siret: str,
    body: UserIn,
    request: Request,
    principal: Authenticated,
    svc: Svc,
    idempotency_key: IdempotencyKey = None,
) -> object:
    value = Siret.parse(siret).value
    _require_admin_of(principal, value)
    return idempotent(
        request,
        svc.idempotency,
        principal,
        idempotency_key,
        body.model_dump(mode="json"),
        lambda: (
            201,
            {
                "user_id": svc.access.grant_user(
                    value, body.name, body.profile, provenance(request, principal, idempotency_key)
                )
            },
        ),
    )


@router.delete(
    "/establishments/{siret}/users/{user_id}",
    status_code=204,
    summary="Remove a user (its keys stop working)",
)
def revoke_user(
    siret: str, user_id: str, request: Request, principal: Authenticated, svc: Svc
) -> None:
    value = Siret.parse(siret).value
    _require_admin_of(principal, value)
    svc.access.revoke_user(value, user_id, provenance(request, principal, None))


@router.post(
    "/delegations",
    status_code=201,
    response_model=EstablishmentOut,
    summary="A centraliser asks an establishment to delegate to it",
)
def request_delegation(
    body: DelegationIn,
    request: Request,
    principal: Authenticated,
    svc: Svc,
    idempotency_key: IdempotencyKey = None,
) -> object:
    delegated = Siret.parse(body.delegated_siret).value
    if principal.role == Role.OPERATOR:
        if body.centraliser_siret is None:
            raise errors.InvalidInput("an operator names the centraliser_siret")
        centraliser = Siret.parse(body.centraliser_siret).value
    else:
        if principal.siret is None or body.centraliser_siret not in (None, principal.siret):
            raise forbid("an employer asks for a delegation to its own SIRET only")
        centraliser = principal.siret
        _require_admin_of(principal, centraliser)

    def run() -> tuple[int, object]:
        svc.access.change_delegation(
            delegated, centraliser, "requested", provenance(request, principal, idempotency_key)
        )
        return 201, _out(svc.access.establishment(delegated))

    return idempotent(request, svc.idempotency, principal, idempotency_key, body.model_dump(), run)


def _answer(
    state: str,
    siret: str,
    centraliser: str,
    request: Request,
    principal: Principal,
    svc: Services,
    key: str | None,
) -> object:
    delegated = Siret.parse(siret).value
    centraliser = Siret.parse(centraliser).value
    if state == "revoked":
        _require_admin_of(principal, delegated, centraliser)
    else:
        _require_admin_of(principal, delegated)

    def run() -> tuple[int, object]:
        svc.access.change_delegation(
            delegated, centraliser, state, provenance(request, principal, key)
        )
        return 201, _out(svc.access.establishment(delegated))

    return idempotent(request, svc.idempotency, principal, key, {"state": state}, run)


@router.post(
    "/establishments/{siret}/delegations/{centraliser}/acceptance",
    status_code=201,
    response_model=EstablishmentOut,
    summary="The delegated establishment accepts",
)
def accept_delegation(
    siret: str,
    centraliser: str,
    request: Request,
    principal: Authenticated,
    svc: Svc,
    idempotency_key: IdempotencyKey = None,
) -> object:
    return _answer("accepted", siret, centraliser, request, principal, svc, idempotency_key)


@router.post(
    "/establishments/{siret}/delegations/{centraliser}/refusal",
    status_code=201,
    response_model=EstablishmentOut,
    summary="The delegated establishment refuses",
)
def refuse_delegation(
    siret: str,
    centraliser: str,
    request: Request,
    principal: Authenticated,
    svc: Svc,
    idempotency_key: IdempotencyKey = None,
) -> object:
    return _answer("refused", siret, centraliser, request, principal, svc, idempotency_key)


@router.post(
    "/establishments/{siret}/delegations/{centraliser}/revocation",
    status_code=201,
    response_model=EstablishmentOut,
    summary="Either side ends the delegation",
)
def revoke_delegation(
    siret: str,
    centraliser: str,
    request: Request,
    principal: Authenticated,
    svc: Svc,
    idempotency_key: IdempotencyKey = None,
) -> object:
    return _answer("revoked", siret, centraliser, request, principal, svc, idempotency_key)


@router.post(
    "/keys",
    status_code=201,
    response_model=KeyOut,
    summary="Issue an API key (shown once): operators for anyone, an establishment's "
    "administrator for its users",
)
def issue_key(
    body: KeyIn,
    request: Request,
    principal: Authenticated,
    svc: Svc,
    idempotency_key: IdempotencyKey = None,
) -> object:
    siret = Siret.parse(body.siret).value if body.siret else None
    if principal.role != Role.OPERATOR:
        if Role(body.role) is not Role.EMPLOYER or siret is None:
            raise forbid("an administrator issues keys to its establishment's users only")
        _require_admin_of(principal, siret)

    def run() -> tuple[int, object]:
        token, key_id = svc.access.issue_key(
            Role(body.role),
            body.name,
            provenance(request, principal, idempotency_key),
            siret=siret,
            user_id=body.user_id,
            label=body.label,
        )
        return 201, {"key_id": key_id.hex, "token": token}

    # A replay returns the same key id but never the secret again: it is not kept.
    return idempotent(
        request,
        svc.idempotency,
        principal,
        idempotency_key,
        body.model_dump(),
        run,
        kept=lambda first: {**first, "token": None},
    )


@router.delete("/keys/{key_id}", status_code=204, summary="Revoke an API key")
def revoke_key(key_id: UUID, request: Request, principal: Authenticated, svc: Svc) -> None:
    key = svc.access.key(key_id)
    if str(key.id) != principal.key_id and principal.role != Role.OPERATOR:
        if key.siret is None:
            raise errors.KeyNotFound("no such key")
        _require_admin_of(principal, key.siret)
    svc.access.revoke_key(key_id, provenance(request, principal, None))
