"""Errors as RFC 9457 problem details (``application/problem+json``), one stable type per error.

No stack trace, no submitted value (it could be a NIR) ever reaches a client.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.domain import accounts, errors

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("cpf_ledger.api")

# Malformed input is 422; a command refused by the current state of the counter or resource is
# 409; an object that does not exist (or is outside the caller's scope) is 404.
STATUS_BY_ERROR: dict[type[errors.DomainError], int] = {
    errors.AgentNotFound: 404,
    errors.EstablishmentNotFound: 404,
    errors.UserNotFound: 404,
    errors.KeyNotFound: 404,
    errors.DecrementNotFound: 404,
    errors.RegularisationRequestNotFound: 404,
    errors.DelegationNotFound: 404,
    errors.DepositNotFound: 404,
    errors.CampaignNotFound: 404,
    errors.Forbidden: 403,
    errors.InvalidInput: 422,
    errors.IncompleteAttestation: 422,
    errors.IdempotencyConflict: 409,
    errors.AgentAlreadyRegistered: 409,
    errors.EstablishmentAlreadyRegistered: 409,
    errors.DelegationConflict: 409,
    errors.AcquisitionLineConflict: 409,
    errors.RegularisationAlreadyDecided: 409,
    errors.DifAlreadyConverted: 409,
    errors.DifReserveAlreadyDeclared: 409,
    errors.LowQualificationAlreadyDeclared: 409,
    errors.DecrementAlreadyCancelled: 409,
    errors.InsufficientBalance: 409,
    errors.AnticipationLimitExceeded: 409,
    errors.AccountClosed: 409,
    errors.InaptitudeLimitExceeded: 409,
    errors.RetroactiveDeclaration: 409,
    errors.RegularisationTooLarge: 409,
    errors.RegularisationAboveFullYear: 409,
    accounts.InvalidCredentials: 401,
    accounts.TooManyAttempts: 429,
    accounts.InvalidActivation: 422,
    accounts.EmailAlreadyUsed: 409,
    accounts.AccountConflict: 409,
}

TITLES = {
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def status_of(error: errors.DomainError) -> int:
    for klass in type(error).__mro__:
        if klass in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[klass]
    return 422


def problem(
    status: int,
    code: str,
    detail: str,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    """A problem-details response; ``extra`` adds members (RFC 9457 extensions)."""
    body = {
        "type": f"/problems/{code}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        **(extra or {}),
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


class ApiProblem(Exception):
    """Raised by the API layer itself (authentication, authorisation, limits)."""

    def __init__(self, status: int, code: str, detail: str, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status, self.code, self.detail, self.headers = status, code, detail, headers


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem response."""

    @app.exception_handler(errors.DomainError)
    async def domain_error(request: Request, exc: errors.DomainError) -> JSONResponse:
        details = {k: v for k, v in exc.details.items() if isinstance(v, int | str | list)}
        retry = {"Retry-After": str(details["retry"])} if "retry" in details else None
        return problem(status_of(exc), exc.code, exc.message, retry, extra=details)

    @app.exception_handler(ApiProblem)
    async def api_problem(request: Request, exc: ApiProblem) -> JSONResponse:
        return problem(exc.status, exc.code, exc.detail, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Never echo the submitted value: it may be a NIR.
        fields = [
            {"location": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
            for e in exc.errors()
        ]
        return problem(422, "invalid_request", "the request is not valid", extra={"errors": fields})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return problem(exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))

    from eventsourcing.persistence import IntegrityError as VersionConflict
    from eventsourcing.persistence import InterfaceError as StoreInterfaceError
    from eventsourcing.persistence import OperationalError as StoreOperationalError
    from psycopg import InterfaceError, OperationalError
    from psycopg_pool import PoolTimeout

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        # Store down, or every connection busy: fail fast, the client retries.
        return problem(
            503,
            "store_unavailable",
            "the store is unavailable or busy; retry later",
            {"Retry-After": "1"},
        )

    for klass in (
        OperationalError,
        InterfaceError,
        PoolTimeout,
        StoreOperationalError,
        StoreInterfaceError,
    ):
        app.add_exception_handler(klass, unavailable)

    @app.exception_handler(VersionConflict)
    async def conflict(request: Request, exc: Exception) -> JSONResponse:
        return problem(
            409, "concurrent_update", "the agent kept changing under concurrent writes; retry"
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error(
            "unexpected error on %s %s: %s",
            request.method,
            getattr(request.scope.get("route"), "path", "?"),
            type(exc).__name__,
        )
        return problem(500, "internal_error", "an unexpected error occurred")
