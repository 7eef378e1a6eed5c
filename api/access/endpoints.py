"""Establishments, their users and delegations, and API keys."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request

from api.access.schemas import (
    DelegationIn,
    DelegationOut,
    EstablishmentIn,
    EstablishmentOut,
    KeyIn,
    KeyOut,
    Me,
    UserIn,
    UserOut,
)
from api.auth import (
    Administrator,
    AdministratorOfSiret,
    Authenticated,
    DelegationParty,
    OperatorOnly,
    Svc,
)
from api.common import provenance
from api.idempotency import IdempotencyKey, idempotent
from ledger.domain.access import Establishment, Principal, Role
from ledger.domain.identifiers import Siret
from projections import scope

router = APIRouter(prefix="/v1", tags=["access"])


def _out(establishment: Establishment) -> dict[str, object]:
    return {
        "siret": establishment.siret,
        "name": establishment.name,
        "users": establishment.users,
        "delegations": establishment.delegations,
        "delegates": sorted(establishment.delegates),
    }


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
    principal: OperatorOnly,
    svc: Svc,
    idempotency_key: IdempotencyKey = None,
) -> object:
    return idempotent(
        request,
        svc.idempotency,
        principal,
        idempotency_key,
        body.model_dump(mode="json"),
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
    scope.require_readable_siret(principal, value)
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
    principal: AdministratorOfSiret,
    svc: Svc,
    idempotency_key: IdempotencyKey = None,
) -> object:
    value = Siret.parse(siret).value
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
    summary="Remove a user: its keys and its sessions stop working at once",
)
def revoke_user(
    siret: str, user_id: str, request: Request, principal: AdministratorOfSiret, svc: Svc
) -> None:
    svc.accounts.remove_user(
        Siret.parse(siret).value, user_id, provenance(request, principal, None)
    )


def _delegation(delegated: str, centraliser: str, state: str) -> dict[str, str]:
    return {"delegated_siret": delegated, "centraliser_siret": centraliser, "state": state}


@router.post(
    "/delegations",
    status_code=201,
    response_model=DelegationOut,
    summary="A centraliser asks an establishment to delegate to it",
)
def request_delegation(
    body: DelegationIn,
    request: Request,
    principal: Administrator,
    svc: Svc,
    idempotency_key: IdempotencyKey = None,
) -> object:
    delegated = Siret.parse(body.delegated_siret).value
    named = Siret.parse(body.centraliser_siret).value if body.centraliser_siret else None
    centraliser = scope.delegation_centraliser(principal, named)

    def run() -> tuple[int, object]:
        svc.access.change_delegation(
            delegated, centraliser, "requested", provenance(request, principal, idempotency_key)
        )
        return 201, _delegation(delegated, centraliser, "requested")

    return idempotent(
        request, svc.idempotency, principal, idempotency_key, body.model_dump(mode="json"), run
    )


# How a delegation is answered: the delegated establishment accepts or refuses; either side
# revokes. One route each, from this table (path, state reached, who may, summary).
DELEGATION_ANSWERS = (
    ("acceptance", "accepted", AdministratorOfSiret, "The delegated establishment accepts"),
    ("refusal", "refused", AdministratorOfSiret, "The delegated establishment refuses"),
    ("revocation", "revoked", DelegationParty, "Either side ends the delegation"),
)


def _delegation_answer(path: str, state: str, requirement: object, summary: str) -> None:
    def answer(
        siret: str,
        centraliser: str,
        request: Request,
        principal: Principal,
        svc: Svc,
        idempotency_key: IdempotencyKey = None,
    ) -> object:
        delegated, central = Siret.parse(siret).value, Siret.parse(centraliser).value

        def run() -> tuple[int, object]:
            where = provenance(request, principal, idempotency_key)
            svc.access.change_delegation(delegated, central, state, where)
            return 201, _delegation(delegated, central, state)

        return idempotent(
            request, svc.idempotency, principal, idempotency_key, {"state": state}, run
        )

    answer.__annotations__["principal"] = requirement
    answer.__name__ = answer.__qualname__ = f"delegation_{path}"
    router.post(
        f"/establishments/{{siret}}/delegations/{{centraliser}}/{path}",
        status_code=201,
        response_model=DelegationOut,
        summary=summary,
    )(answer)


for _path, _state, _requirement, _summary in DELEGATION_ANSWERS:
    _delegation_answer(_path, _state, _requirement, _summary)


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
    scope.require_key_issuer(principal, Role(body.role), siret)

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
        body.model_dump(mode="json"),
        run,
        kept=lambda first: {**first, "token": None},
    )


@router.delete("/keys/{key_id}", status_code=204, summary="Revoke an API key")
def revoke_key(key_id: UUID, request: Request, principal: Authenticated, svc: Svc) -> None:
    key = svc.access.key(key_id)
    scope.require_key_revoker(principal, str(key.id), key.siret)
    svc.access.revoke_key(key_id, provenance(request, principal, None))
