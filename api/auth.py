"""Who is calling, and what each route requires of it, declared once as FastAPI dependencies.

A caller is a bearer API key or a person's session (a cookie); either resolves to a
:class:`Principal`, and from there one path decides: the same requirements, the same scope
module. A session also needs its CSRF token on every unsafe request, and never serves a
cross-site one.

A route states its requirement in its signature (``principal: OperatorOnly``); the decisions
themselves (roles, profiles, SIRETs, agents) are ``projections.scope``'s. A requirement that
depends on a SIRET or an agent named in the request is checked through the same module once the
request names them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from api.bootstrap import Services, services
from api.problems import ApiProblem
from ledger.credentials import same
from ledger.domain import errors
from ledger.domain.access import Principal, Profile, Role
from ledger.domain.identifiers import Siret
from ledger.store.credentials import SessionRow
from projections import scope

bearer = HTTPBearer(auto_error=False, description="An API key issued by `cpf-ledger keys issue`")
SESSION_COOKIE = "__Host-cpf_session"
DEVELOPMENT_COOKIE = "cpf_session"  # without Secure, a __Host- cookie would be refused
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
session_cookie = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    description="A person's session, opened by `POST /v1/sessions` (unsafe requests also send "
    f"the session's CSRF token in `{CSRF_HEADER}`)",
)
CHALLENGE = {"WWW-Authenticate": "Bearer"}
Svc = Annotated[Services, Depends(services)]


def _invalid() -> ApiProblem:
    return ApiProblem(401, "invalid_key", "this API key is unknown or revoked", CHALLENGE)


def principal_of_key(svc: Services, token: str) -> Principal | None:
    """The principal a bearer key stands for (None: unknown, revoked, or its user removed),
    kept ``LEDGER_KEY_CACHE_SECONDS`` (see :mod:`api.principals`)."""
    return svc.principals.get(token, lambda: _resolve_key(svc, token))


def _resolve_key(svc: Services, token: str) -> Principal | None:
    key = svc.access.authenticate(token)
    if key is None:
        return None
    return _principal(svc, key.role, key.name, str(key.id), key.siret, key.user_id)


def principal_of_session(svc: Services, session: SessionRow) -> Principal | None:
    """The principal a live session stands for: the person (None: removed from its
    establishment)."""
    return _principal(
        svc,
        Role(session.role),
        session.name,
        f"user:{session.user_id}",
        session.siret,
        session.user_id,
        session.session_ref,
    )


def _principal(
    svc: Services,
    role: Role,
    name: str,
    key_id: str,
    siret: str | None,
    user_id: str | None,
    session: str | None = None,
) -> Principal | None:
    """A key's or a session's principal: an employer's profile and SIRETs are read from its
    establishment (for a session, on every request; for a key, once per cache lifetime), so a
    user removed from it stops at once in this process, within the cache lifetime in others."""
    if role is not Role.EMPLOYER:
        return Principal(role=str(role), name=name, key_id=key_id, user_id=user_id, session=session)
    assert siret is not None and user_id is not None
    try:
        establishment = svc.access.establishment(siret)
    except errors.EstablishmentNotFound:
        return None
    profile = establishment.profile_of(user_id)
    if profile is None:  # the user was removed from the establishment
        return None
    return Principal(
        role=str(Role.EMPLOYER),
        name=name,
        key_id=key_id,
        siret=siret,
        user_id=user_id,
        profile=str(profile),
        sirets=frozenset({establishment.siret, *establishment.delegates}),
        session=session,
    )


def authenticate_at_the_edge(scope: Any, token: str) -> bool:
    """Run by the edge middleware before any body is read: whether the key is valid. The
    principal is kept in the request's state so the route does not look it up again."""
    principal = principal_of_key(scope["app"].state.services, token)
    if principal is None:
        return False
    scope.setdefault("state", {})["principal"] = principal
    return True


def cookie_name(svc: Services) -> str:
    """The session cookie's name: ``__Host-`` (Secure, whole site, this host only) unless the
    Secure flag is off for development over http://127.0.0.1."""
    return SESSION_COOKIE if svc.settings.session_cookie_secure else DEVELOPMENT_COOKIE


def session_of(request: Request, svc: Services) -> SessionRow | None:
    """The live session the request's cookie names, if any (no CSRF check: see
    :func:`authenticate`)."""
    token = request.cookies.get(cookie_name(svc))
    return svc.accounts.session(token) if token else None


def check_same_site(request: Request) -> None:
    """Sessions never authorise a cross-site request: refused when the browser says it is one
    (``Sec-Fetch-Site``) or the ``Origin`` is another site's (or hidden: ``null``)."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise ApiProblem(403, "cross_site_request", "a session does not serve cross-site requests")
    origin = request.headers.get("origin")
    if origin:
        host = request.headers.get("host", "")
        if origin.split("://", 1)[-1] != host:
            raise ApiProblem(403, "cross_site_request", "a session does not serve other origins")


def check_csrf(request: Request, session: SessionRow, supplied: str | None = None) -> None:
    """Unsafe methods with a session carry its CSRF token (the header, or ``supplied`` by a
    form); 403 otherwise."""
    if request.method in SAFE_METHODS:
        return
    token = supplied if supplied is not None else request.headers.get(CSRF_HEADER)
    if not token or not same(token, session.csrf_token):
        raise ApiProblem(
            403, "csrf_refused", f"a request with a session must carry its {CSRF_HEADER}"
        )


def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    cookie: Annotated[str | None, Depends(session_cookie)],
    svc: Svc,
) -> Principal:
    """The principal of the bearer key, else of the session cookie; 401 when missing, unknown,
    revoked or expired; 403 when a session's request is cross-site or lacks its CSRF token."""
    known = getattr(request.state, "principal", None)
    if isinstance(known, Principal) and credentials is not None:
        return known  # the edge checked this key before reading the body
    if credentials is not None:
        principal = principal_of_key(svc, credentials.credentials)
        if principal is None:
            raise _invalid()
    elif request.cookies.get(cookie_name(svc)):
        check_same_site(request)
        session = session_of(request, svc)
        principal = principal_of_session(svc, session) if session else None
        if session is None or principal is None:
            raise ApiProblem(401, "session_expired", "this session has ended: sign in again")
        # A console form's hidden field, when the console's route handed it over (no header)
        check_csrf(request, session, getattr(request.state, "form_csrf_token", None))
        request.state.session = session
    else:
        raise ApiProblem(
            401, "unauthenticated", "a bearer API key or a session is required", CHALLENGE
        )
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
person = _requirement(scope.require_person, "person")


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


def metrics_reader(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    cookie: Annotated[str | None, Depends(session_cookie)],
    svc: Svc,
) -> Principal | None:
    """``/metrics``: an operator's key, unless the deployment made it public
    (``LEDGER_METRICS_PUBLIC``, for a port only the scraper reaches)."""
    if svc.settings.metrics_public:
        return None
    principal = authenticate(request, credentials, cookie, svc)
    scope.require_role(principal, Role.OPERATOR)
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
MetricsReader = Annotated[Principal | None, Depends(metrics_reader)]
Person = Annotated[Principal, Depends(person)]
"""A person signed in with a session (keys may not: they belong to software)."""

REQUIREMENTS: frozenset[Callable[..., Principal | None]] = frozenset(
    {
        authenticate,
        operator_only,
        reader_of_everything,
        writer,
        administrator,
        establishment_administrator,
        delegation_party,
        metrics_reader,
        person,
    }
)
"""Every requirement a route may declare (the authorisation matrix checks each route has one)."""
