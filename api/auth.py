"""Bearer API keys mapped to principals, and the role checks of the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.problems import ApiProblem
from api.services import Services, services
from ledger import errors
from ledger.access import Profile, Role
from projections.queries import Principal

bearer = HTTPBearer(auto_error=False, description="An API key issued by `cpf-ledger keys issue`")
CHALLENGE = {"WWW-Authenticate": "Bearer"}


def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    svc: Annotated[Services, Depends(services)],
) -> Principal:
    """The principal of the bearer key; 401 when missing, unknown or revoked."""
    if credentials is None:
        raise ApiProblem(401, "unauthenticated", "a bearer API key is required", CHALLENGE)
    key = svc.access.authenticate(credentials.credentials)
    if key is None:
        raise ApiProblem(401, "invalid_key", "this API key is unknown or revoked", CHALLENGE)
    if key.role is not Role.EMPLOYER:
        principal = Principal(role=str(key.role), name=key.name, key_id=str(key.id))
    else:
        assert key.siret is not None and key.user_id is not None
        try:
            establishment = svc.access.establishment(key.siret)
        except errors.EstablishmentNotFound:
            raise ApiProblem(
                401, "invalid_key", "this API key is unknown or revoked", CHALLENGE
            ) from None
        profile = establishment.profile_of(key.user_id)
        if profile is None:  # the user was removed from the establishment
            raise ApiProblem(401, "invalid_key", "this API key is unknown or revoked", CHALLENGE)
        principal = Principal(
            role=str(Role.EMPLOYER),
            name=key.name,
            key_id=str(key.id),
            siret=key.siret,
            user_id=key.user_id,
            profile=str(profile),
            sirets=frozenset({establishment.siret, *establishment.delegates}),
        )
    request.state.principal = principal
    return principal


Authenticated = Annotated[Principal, Depends(authenticate)]


def forbid(detail: str) -> ApiProblem:
    return ApiProblem(403, "forbidden", detail)


def require_operator(principal: Principal) -> None:
    if principal.role != Role.OPERATOR:
        raise forbid("only a CDC operator may do this")


def require_reader_of_everything(principal: Principal) -> None:
    if not principal.reads_everything:
        raise forbid("only operators and auditors may do this")


def require_writer(
    principal: Principal, siret: str | None, profile: Profile = Profile.GESTION
) -> None:
    """Operators write everything; an employer needs ``profile`` and acts for its SIRETs only;
    auditors never write."""
    if principal.role == Role.OPERATOR:
        return
    if principal.role != Role.EMPLOYER:
        raise forbid("auditors read, they never write")
    assert principal.profile is not None
    if not Profile(principal.profile).allows(profile):
        raise forbid(f"this needs the {profile} profile")
    if siret is not None and siret not in principal.sirets:
        raise forbid("this SIRET is not one you act for")
