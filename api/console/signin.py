"""Signing in and out, and activating one's account: the sessions of people's accounts (the
same service calls as ``/v1/sessions`` and ``/v1/activations``), as forms."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request, Response

from api.auth import Authenticated, Person, Svc, cookie_name
from api.console.messages import explain
from api.console.web import console_router, render, see_other
from api.sessions.endpoints import clear_session_cookie, open_session, set_session_cookie
from ledger.domain.errors import DomainError

router = console_router()
HOME = "/tableau-de-bord"

Text = Annotated[str, Form(max_length=300)]


def _next(suite: str | None) -> str:
    """Where to go after signing in: a page of this site only (never another host)."""
    if suite and suite.startswith("/") and not suite.startswith("//") and "\\" not in suite:
        return suite
    return HOME


@router.get("/")
def home(principal: Authenticated) -> Response:
    return see_other(HOME)


@router.get("/connexion")
def sign_in_page(request: Request, suite: str | None = None) -> Response:
    return render(request, "connexion.html", {"suite": _next(suite), "erreur": None})


@router.post("/connexion")
def sign_in(
    request: Request,
    svc: Svc,
    email: Text,
    password: Annotated[str, Form(max_length=300)],
    second_factor: Annotated[str, Form(max_length=40)],
    suite: Annotated[str, Form(max_length=300)] = HOME,
) -> Response:
    try:
        _, opened = open_session(request, svc, email, password, second_factor)
    except DomainError as refused:
        status = 429 if refused.code == "too_many_attempts" else 401
        text = explain(refused.code, refused.details, status)
        context = {"suite": _next(suite), "erreur": text, "email": email}
        return render(request, "connexion.html", context, status)
    response = see_other(_next(suite))
    set_session_cookie(response, svc, opened)
    return response


@router.post("/deconnexion")
def sign_out(request: Request, principal: Person, svc: Svc) -> Response:
    svc.accounts.logout(request.cookies[cookie_name(svc)])
    response = see_other("/connexion?fin=1")
    clear_session_cookie(response, svc)
    return response


@router.get("/activation")
def activation_page(request: Request) -> Response:
    return render(request, "activation.html", {"erreur": None, "email": ""})


@router.post("/activation")
def start_activation(request: Request, svc: Svc, email: Text, code: Text) -> Response:
    """First step: the code checked, the second factor to enrol (QR code and secret)."""
    try:
        enrolment = svc.accounts.start_activation(email.strip(), code.strip())
    except DomainError as refused:
        text = explain(refused.code, refused.details, 422)
        return render(request, "activation.html", {"erreur": text, "email": email}, 422)
    context: dict[str, object] = {"email": email.strip(), "code": code.strip(), "erreur": None}
    return render(request, "activation_facteur.html", {**context, "enrolment": enrolment})


@router.post("/activation/confirmation")
def activate(
    request: Request,
    svc: Svc,
    email: Text,
    code: Text,
    secret: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=300)],
    confirmation: Annotated[str, Form(max_length=300)],
    totp: Annotated[str, Form(max_length=20)],
) -> Response:
    """Second step: the password set, the second factor confirmed; the recovery codes, once."""
    try:
        if password != confirmation:
            raise _Mismatch()
        codes = svc.accounts.activate(email, code, password, totp)
    except (DomainError, _Mismatch) as refused:
        text = (
            "Les deux mots de passe saisis diffèrent."
            if isinstance(refused, _Mismatch)
            else explain(refused.code, refused.details, 422)
        )
        enrolment = svc.accounts.second_factor.enrolment(email, secret)  # shown again, as is
        context = {"email": email, "code": code, "enrolment": enrolment, "erreur": text}
        return render(request, "activation_facteur.html", context, 422)
    return render(request, "activation_fin.html", {"codes": codes})


class _Mismatch(Exception):
    pass
