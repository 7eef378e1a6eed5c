"""Who is calling, and what each route requires of it, declared once as FastAPI dependencies.

A route states its requirement in its signature (``principal: OperatorOnly``); the decisions
themselves (roles, profiles, SIRETs, agents) are ``projections.scope``'s. A requirement that
depends on a SIRET or an agent named in the request is checked through the same module once the
request names them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.bootstrap import Services, services
from api.problems import ApiProblem
from ledger.domain import errors
from ledger.domain.access import Principal, Profile, Role
from ledger.domain.identifiers import Siret
from projections import scope

bearer = HTTPBearer(auto_error=False, description="An API key issued by `cpf-ledger keys issue`")
CHALLENGE = {"WWW-Authenticate": "Bearer"}
Svc = Annotated[Services, Depends(services)]


def _invalid() -> ApiProblem:
    return ApiProblem(401, "invalid_key", "this API key is unknown or revoked", CHALLENGE)


def principal_of_key(svc: Services, token: str) -> Principal | None:
    """The principal a bearer key stands for (None: unknown, revoked, or its user removed)."""
    key = svc.access.authenticate(token)
    if key is None:
        return None
    if key.role is not Role.EMPLOYER:
        return Principal(role=str(key.role), name=key.name, key_id=str(key.id))
    assert key.siret is not None and key.user_id is not None
    try:
        establishment = svc.access.establishment(key.siret)
    except errors.EstablishmentNotFound:
        return None
    profile = establishment.profile_of(key.user_id)
    if profile is None:  # the user was removed from the establishment
        return None
    return Principal(
        role=str(Role.EMPLOYER),
        name=key.name,
        key_id=str(key.id),
        siret=key.siret,
        user_id=key.user_id,
        profile=str(profile),
        sirets=frozenset({establishment.siret, *establishment.delegates}),
    )


def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    svc: Svc,
) -> Principal:
    """The principal of the bearer key; 401 when missing, unknown or revoked."""
    if credentials is None:
        raise ApiProblem(401, "unauthenticated", "a bearer API key is required", CHALLENGE)
    token = credentials.credentials
    principal = svc.principals.get(token, lambda: principal_of_key(svc, token))
    if principal is None:
        raise _invalid()
    request.state.principal = principal
    return principal


def _requirement(check: Callable[[Principal], None], name: str) -> Callable[..., Principal]:
    def requirement(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        check(principal)
        return principal

    requirement.__name__ = requirement.__qualname__ = name
    return requirement


def _readers_of_everything(principal: Principal) -> None:
    if not scope.reads_everything(principal):
        raise errors.Forbidden("only operators and auditors may do this")


operator_only = _requirement(lambda p: scope.require_role(p, Role.OPERATOR), "operator_only")
reader_of_everything = _requirement(_readers_of_everything, "reader_of_everything")
writer = _requirement(lambda p: scope.require_profile(p, Profile.GESTION), "writer")
administrator = _requirement(
    lambda p: scope.require_profile(p, Profile.ADMINISTRATION), "administrator"
)


def establishment_administrator(
    siret: str, principal: Annotated[Principal, Depends(authenticate)]
) -> Principal:
    """The route's ``{siret}``: operators, or an administrator of that establishment."""
    scope.require_administrator_of(principal, Siret.parse(siret).value)
    return principal


def delegation_party(
    siret: str, centraliser: str, principal: Annotated[Principal, Depends(authenticate)]
) -> Principal:
    """Either side of a delegation: operators, or an administrator of the delegated
    establishment or of the centraliser."""
    scope.require_administrator_of(
        principal, Siret.parse(siret).value, Siret.parse(centraliser).value
    )
    return principal


Authenticated = Annotated[Principal, Depends(authenticate)]
"""Any valid key: what it may see is decided per object by the scope module."""
OperatorOnly = Annotated[Principal, Depends(operator_only)]
"""A CDC operator."""
ReaderOfEverything = Annotated[Principal, Depends(reader_of_everything)]
"""Operators and auditors."""
Writer = Annotated[Principal, Depends(writer)]
"""Operators, and employer users with the gestion profile or more (never auditors)."""
Administrator = Annotated[Principal, Depends(administrator)]
"""Operators, and employer users with the administration profile."""
AdministratorOfSiret = Annotated[Principal, Depends(establishment_administrator)]
"""Operators, and the administrators of the route's establishment (others: 403, or 404 when they
do not act for it)."""
DelegationParty = Annotated[Principal, Depends(delegation_party)]
"""Operators, and the administrators of either side of the route's delegation."""

REQUIREMENTS: frozenset[Callable[..., Principal]] = frozenset(
    {
        authenticate,
        operator_only,
        reader_of_everything,
        writer,
        administrator,
        establishment_administrator,
        delegation_party,
    }
)
"""Every requirement a route may declare (the authorisation matrix checks each route has one)."""
