"""What every console page shares: the Jinja2 templates, the page's context (who is signed in,
what the console offers them, the CSRF token), and the route class that turns errors into pages.

Pages are routes of the same FastAPI application as the JSON API, with the same requirements
(``api.auth``), the same services and the same scope module; only the answer is HTML. A route of
the console never answers JSON: a refusal is a page in French, a session that ended sends the
browser back to the sign-in page.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Coroutine
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
import psycopg
from eventsourcing.persistence import IntegrityError as VersionConflict
from eventsourcing.persistence import InterfaceError as StoreInterfaceError
from eventsourcing.persistence import OperationalError as StoreOperationalError
from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from psycopg_pool import PoolTimeout
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.access.endpoints import me
from api.auth import (
    CSRF_HEADER,
    REQUIREMENTS,
    SAFE_METHODS,
    cookie_name,
    principal_of_key,
    session_of,
)
from api.console import messages
from api.edge import BodyTooLarge
from api.exports import KINDS, STATUSES
from api.problems import ApiProblem, status_of
from ledger.domain import errors
from ledger.domain.access import Principal
from projections import scope

log = logging.getLogger("cpf_ledger.console")
UNAVAILABLE = (
    psycopg.OperationalError,
    psycopg.InterfaceError,
    PoolTimeout,
    StoreOperationalError,
    StoreInterfaceError,
)
TEMPLATES = Path(__file__).parent / "templates"
VENDOR = {
    "htmx": "/static/vendor/htmx-2.0.11/htmx.min.js",
    "chart": "/static/vendor/chart.js-4.6.1/chart.umd.min.js",
}
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
CSRF_FIELD = "csrf_token"
SIGN_IN = "/connexion"

CHANNELS = {
    "api": "API",
    "console": "console",
    "cli": "ligne de commande",
    "campaign": "campagne",
    "decrement_file": "fichier de décrémentations",
    "regularisation": "régularisation",
    "system": "système",
}
ROLES = {"employer": "employeur", "operator": "opérateur CDC", "auditor": "auditeur"}
PROFILES = {
    "consultation": "consultation",
    "gestion": "gestion",
    "administration": "administration",
}


def _date(value: Any) -> str:
    if value in (None, ""):
        return ""
    day = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    return day.strftime("%d/%m/%Y")


def _moment(value: Any) -> str:
    if value in (None, ""):
        return ""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.strftime("%d/%m/%Y %H:%M:%S") + " UTC"


def _hours(value: Any, signed: bool = True) -> str:
    if value is None:
        return ""
    number = int(value)
    return f"{number:+d} h" if signed and number else f"{number} h"


environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=jinja2.select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters.update(
    date_fr=_date,
    moment_fr=_moment,
    heures=_hours,
    mouvement=lambda kind: KINDS.get(kind, kind),
    statut=lambda status: STATUSES.get(status, status),
    canal=lambda channel: CHANNELS.get(channel or "", channel or ""),
    role=lambda role: ROLES.get(role, role),
    profil=lambda profile: PROFILES.get(profile or "", profile or ""),
    motif=lambda line: messages.reason(str(line.get("code") or ""), line.get("message")),
)
environment.globals["new_key"] = lambda: uuid.uuid4().hex  # a form's Idempotency-Key


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """A page (or, for htmx, a fragment) with what every page shows: who is signed in, what the
    console offers them, and the session's CSRF token for its forms."""
    principal: Principal | None = getattr(request.state, "principal", None)
    session = getattr(request.state, "session", None)
    page = environment.get_template(template).render(
        request=request,
        principal=principal,
        moi=me(principal) if principal else None,  # who is signed in, shown back to them
        can=scope.console_abilities(principal) if principal else None,
        csrf=session.csrf_token if session is not None else "",
        csrf_field=CSRF_FIELD,
        vendor=VENDOR,
        path=request.url.path,
        today=date.today(),
        **(context or {}),
    )
    return HTMLResponse(
        page, status_code=status, headers={"Cache-Control": "no-store", **(headers or {})}
    )


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def see_other(path: str) -> RedirectResponse:
    """After a form: the page that shows what it did (POST, redirect, GET)."""
    return RedirectResponse(path, status_code=303)


def sign_in_again(request: Request) -> RedirectResponse:
    """No session (or one that ended): the sign-in page, then back here (a page read only)."""
    target = SIGN_IN
    if request.method in SAFE_METHODS and request.url.path != "/":
        target += "?suite=" + quote(request.url.path, safe="/")
    return see_other(target)


async def before_the_body(request: Request) -> Response | None:
    """A form sent to a page that needs a caller: a stranger's body is never read (files go
    up to 200 MiB), as the edge does for ``/v1``. Answers the refusal, or None to go on.

    A form posted with a session carries its CSRF token in a hidden field (a browser cannot add
    a header to a plain form): the form is read and the token handed to the same check as the
    ``X-CSRF-Token`` header."""
    svc = request.app.state.services
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        if await run_in_threadpool(principal_of_key, svc, token.strip()) is None:
            return refusal(request, ApiProblem(401, "invalid_key", "unknown or revoked key"))
        return None
    session = None
    if request.cookies.get(cookie_name(svc)):
        session = await run_in_threadpool(session_of, request, svc)
    if session is None:
        return sign_in_again(request)
    form_type = request.headers.get("content-type", "").startswith(FORM_TYPES)
    if form_type and not request.headers.get(CSRF_HEADER):
        form = await request.form(max_files=1, max_fields=60)
        supplied = form.get(CSRF_FIELD)
        if isinstance(supplied, str):
            request.state.form_csrf_token = supplied
    return None


class ConsoleRoute(APIRoute):
    """A console page: the route's own requirements and checks, answered as HTML."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        # Signing in and activating need no caller; every other page declares its requirement.
        public = not {d.call for d in self.dependant.dependencies} & REQUIREMENTS

        async def page(request: Request) -> Response:
            try:
                if request.method not in SAFE_METHODS and not public:
                    refused = await before_the_body(request)
                    if refused is not None:
                        return refused
                return await handler(request)
            except BodyTooLarge:
                raise  # the edge answers it
            except Exception as error:
                return refusal(request, error)

        return page


def refusal(request: Request, error: Exception) -> Response:
    """What a page answers when a check or a rule refuses: the sign-in page when there is no
    session, else a page saying why in French (never repeating what was typed)."""
    if isinstance(error, ApiProblem):
        status, code = error.status, error.code
        if status == 401 and "authorization" not in request.headers:
            return sign_in_again(request)
        retry = (error.headers or {}).get("Retry-After")
        text = messages.explain(code, {"retry": retry}, status)
        return _error_page(request, status, code, text)
    if isinstance(error, errors.DomainError):
        status = status_of(error)
        headers = {"Retry-After": str(error.details["retry"])} if "retry" in error.details else {}
        text = messages.explain(error.code, error.details, status)
        return _error_page(request, status, error.code, text, headers)
    if isinstance(error, RequestValidationError):
        fields = sorted({messages.field(e.get("loc", ())) for e in error.errors()})
        text = "Le formulaire n'est pas valide : " + ", ".join(fields) + "."
        return _error_page(request, 422, "invalid_request", text)
    if isinstance(error, UNAVAILABLE):  # the store is down or busy, as the API answers
        text = messages.explain("store_unavailable", {}, 503)
        return _error_page(request, 503, "store_unavailable", text, {"Retry-After": "1"})
    if isinstance(error, VersionConflict):
        text = messages.explain("concurrent_update", {}, 409)
        return _error_page(request, 409, "concurrent_update", text)
    if isinstance(error, StarletteHTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        text = messages.explain(code, {}, error.status_code)
        return _error_page(request, error.status_code, code, text)
    log.error("unexpected error on a console page", exc_info=error)
    return _error_page(request, 500, "internal_error", messages.explain("internal_error", {}))


def _error_page(
    request: Request, status: int, code: str, text: str, headers: dict[str, str] | None = None
) -> HTMLResponse:
    context = {"status": status, "code": code, "message": text}
    if is_htmx(request):  # in place, in the page's message area (htmx-config swaps 4xx and 5xx)
        headers = {**(headers or {}), "HX-Retarget": "#message", "HX-Reswap": "innerHTML"}
        return render(request, "fragments/erreur.html", context, status, headers)
    return render(request, "erreur.html", context, status, headers)


def console_router() -> APIRouter:
    """A router of console pages (outside the OpenAPI document: pages, not an API)."""
    return APIRouter(route_class=ConsoleRoute, include_in_schema=False, tags=["console"])
