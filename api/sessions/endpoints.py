"""A person's own side: activating the account, signing in and out, changing the password,
renewing the second factor.

A login answers with the session in a cookie (``HttpOnly``, ``SameSite=Strict``, ``Secure``)
and its CSRF token in the body; a server-rendered console posts the same bodies from its forms
and keeps the token in its pages. These routes are what the web console builds on.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from api.access.endpoints import me
from api.accounts.schemas import (
    ActivationIn,
    EnrolmentIn,
    EnrolmentOut,
    LoginIn,
    PasswordChangeIn,
    ReauthenticationIn,
    RecoveryOut,
    RenewalIn,
    SessionOut,
)
from api.auth import Person, Svc, check_same_site, cookie_name, principal_of_session
from api.bootstrap import Services
from ledger.accounts_service import NewSession
from ledger.credentials import Enrolment
from ledger.domain.access import Principal
from ledger.domain.accounts import InvalidCredentials
from ledger.store.credentials import SessionRow

router = APIRouter(prefix="/v1", tags=["sessions"])


def _enrolment(enrolment: Enrolment) -> dict[str, str]:
    return {"secret": enrolment.secret, "otpauth_uri": enrolment.uri, "qr_svg": enrolment.qr_svg}


def _session_out(
    principal: Principal, csrf: str, expires: datetime, idle: datetime
) -> dict[str, object]:
    return {
        **me(principal).model_dump(),  # the principal shown back to itself, as /v1/me does
        "user_id": principal.user_id,
        "csrf_token": csrf,
        "expires_at": expires.isoformat(),
        "idle_expires_at": idle.isoformat(),
    }


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post(
    "/activations/enrolment",
    response_model=EnrolmentOut,
    summary="Activation, first step: with the e-mail and the activation code, the second "
    "factor to enrol (secret and QR code, shown once)",
)
def start_activation(body: EnrolmentIn, svc: Svc) -> object:
    return _enrolment(svc.accounts.start_activation(body.email, body.code))


@router.post(
    "/activations",
    status_code=201,
    response_model=RecoveryOut,
    summary="Activation: set the password and confirm the second factor with one of its "
    "codes; the recovery codes are shown once",
)
def activate(body: ActivationIn, svc: Svc) -> object:
    codes = svc.accounts.activate(body.email, body.code, body.password, body.totp)
    account = svc.accounts.account_by_email(body.email)
    return {"user_id": account.user_id if account else None, "recovery_codes": codes}


@router.post(
    "/sessions",
    status_code=201,
    response_model=SessionOut,
    summary="Sign in with the password and the second factor: the session in a cookie, its "
    "CSRF token in the body (a session the browser had is replaced)",
)
def login(body: LoginIn, request: Request, svc: Svc) -> Response:
    principal, opened = open_session(request, svc, body.email, body.password, body.second_factor)
    response = JSONResponse(
        _session_out(principal, opened.csrf_token, opened.expires_at, opened.idle_expires_at),
        status_code=201,
    )
    set_session_cookie(response, svc, opened)
    return response


def open_session(
    request: Request, svc: Services, email: str, password: str, second_factor: str
) -> tuple[Principal, NewSession]:
    """Sign a person in (the JSON route and the console's form): the session the browser had
    is replaced; raises InvalidCredentials or TooManyAttempts."""
    check_same_site(request)  # no login forced on a browser from another site
    opened = svc.accounts.login(
        email, password, second_factor, _client(request), request.cookies.get(cookie_name(svc))
    )
    session = svc.accounts.session(opened.session_id)
    principal = principal_of_session(svc, session) if session else None
    if session is None or principal is None:  # removed from its establishment meanwhile
        svc.accounts.logout(opened.session_id)
        raise InvalidCredentials("this account cannot sign in")
    request.state.principal = principal
    return principal, opened


def set_session_cookie(response: Response, svc: Services, opened: NewSession) -> None:
    """The session in its cookie: HttpOnly, SameSite=Strict, Secure (see :func:`cookie_name`)."""
    response.set_cookie(
        cookie_name(svc),
        opened.session_id,
        max_age=int((opened.expires_at - svc.accounts.now()).total_seconds()),
        path="/",
        secure=svc.settings.session_cookie_secure,
        httponly=True,
        samesite="strict",
    )


def clear_session_cookie(response: Response, svc: Services) -> None:
    response.delete_cookie(
        cookie_name(svc),
        path="/",
        secure=svc.settings.session_cookie_secure,
        httponly=True,
        samesite="strict",
    )


def _current(request: Request) -> SessionRow:
    session: SessionRow = request.state.session
    return session


@router.get(
    "/sessions/current",
    response_model=SessionOut,
    summary="The session's person, expiry and CSRF token",
)
def current(request: Request, principal: Person, svc: Svc) -> object:
    session = _current(request)
    return _session_out(
        principal, session.csrf_token, session.absolute_expiry, svc.accounts.idle_expiry(session)
    )


@router.delete("/sessions/current", status_code=204, summary="Sign out: the session ends")
def logout(request: Request, principal: Person, svc: Svc) -> Response:
    svc.accounts.logout(request.cookies[cookie_name(svc)])
    response = Response(status_code=204)
    clear_session_cookie(response, svc)
    return response


@router.post(
    "/me/password",
    status_code=204,
    summary="Change one's password (the current one is asked again); other sessions end",
)
def change_password(body: PasswordChangeIn, request: Request, principal: Person, svc: Svc) -> None:
    assert principal.user_id is not None
    svc.accounts.change_password(
        principal.user_id,
        body.current_password,
        body.new_password,
        keep=request.cookies.get(cookie_name(svc)),
    )


@router.post(
    "/me/second-factor/enrolment",
    response_model=EnrolmentOut,
    summary="Renewing one's second factor, first step: the new one to enrol (shown once)",
)
def start_renewal(body: ReauthenticationIn, principal: Person, svc: Svc) -> object:
    assert principal.user_id is not None
    return _enrolment(svc.accounts.start_renewal(principal.user_id, body.password))


@router.post(
    "/me/second-factor",
    response_model=RecoveryOut,
    summary="Confirm the new second factor with one of its codes; new recovery codes, shown "
    "once (the old factor and codes stop working)",
)
def renew(body: RenewalIn, principal: Person, svc: Svc) -> object:
    assert principal.user_id is not None
    codes = svc.accounts.renew_second_factor(principal.user_id, body.password, body.totp)
    return {"user_id": principal.user_id, "recovery_codes": codes}
