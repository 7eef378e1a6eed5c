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


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An error (RFC 9457). `type` is stable: `/problems/<code>` explains it. "
    "Refusals by the rules may add figures (`needed`, `available`, `floor`…) for callers who "
    "may see them; a malformed request lists its `errors` by location, never echoing a value.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "example": "/problems/insufficient_balance"},
        "title": {"type": "string", "example": "Conflict"},
        "status": {"type": "integer", "example": 409},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["location", "message"],
                "properties": {"location": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "additionalProperties": True,
}
ERROR_STATUSES = {
    401: "No key, or an unknown or revoked one",
    403: "The caller's role or profile does not allow this",
    404: "Unknown, or outside the caller's scope (the same answer)",
    409: "Refused by the current state (the rules, a conflict, an idempotency key reused)",
    413: "The body is over its limit",
    429: "Too many failed sign-ins for this account or address: retry after Retry-After",
    422: "Malformed input (each error by location; no value repeated)",
    503: "The store is unavailable or busy, or the views lag; retry (see Retry-After)",
}
PUBLIC_PATHS = frozenset({"/healthz", "/readyz"})
SIGN_IN_PATHS = frozenset({"/v1/sessions", "/v1/activations", "/v1/activations/enrolment"})

# What a write returns that a later request names: OpenAPI links, so clients and stateful
# testers can follow one operation to the next. (source method, path, status) -> targets.
LINKS: dict[tuple[str, str, str], list[tuple[str, str, dict[str, str]]]] = {
    ("post", "/v1/agents", "201"): [
        ("get", "/v1/agents/{agent_id}/balance", {"agent_id": "$response.body#/agent_id"}),
        ("get", "/v1/agents/{agent_id}/movements", {"agent_id": "$response.body#/agent_id"}),
        ("get", "/v1/agents/{agent_id}/identity", {"agent_id": "$response.body#/agent_id"}),
        ("post", "/v1/agents/{agent_id}/acquisitions", {"agent_id": "$response.body#/agent_id"}),
        ("post", "/v1/agents/{agent_id}/dif-reserve", {"agent_id": "$response.body#/agent_id"}),
    ],
    ("post", "/v1/agents/lookup", "200"): [
        ("get", "/v1/agents/{agent_id}/balance", {"agent_id": "$response.body#/agent_id"}),
        ("get", "/v1/agents/{agent_id}/movements", {"agent_id": "$response.body#/agent_id"}),
        ("get", "/v1/audit/agents/{agent_id}/replay", {"agent_id": "$response.body#/agent_id"}),
    ],
    ("post", "/v1/decrements", "201"): [
        (
            "post",
            "/v1/agents/{agent_id}/decrements/{decrement_id}/cancellation",
            {
                "agent_id": "$response.body#/agent_id",
                "decrement_id": "$response.body#/decrement_id",
            },
        ),
    ],
    ("post", "/v1/regularisations", "201"): [
        ("get", "/v1/regularisations/{request_id}", {"request_id": "$response.body#/request_id"}),
        (
            "post",
            "/v1/regularisations/{request_id}/approval",
            {"request_id": "$response.body#/request_id"},
        ),
        (
            "post",
            "/v1/regularisations/{request_id}/rejection",
            {"request_id": "$response.body#/request_id"},
        ),
    ],
    ("post", "/v1/decrement-files", "201"): [
        ("get", "/v1/decrement-files/{deposit_id}", {"deposit_id": "$response.body#/deposit_id"}),
    ],
    ("post", "/v1/campaigns", "202"): [
        ("get", "/v1/campaigns/{campaign_id}", {"campaign_id": "$response.body#/campaign_id"}),
    ],
    ("post", "/v1/keys", "201"): [
        ("delete", "/v1/keys/{key_id}", {"key_id": "$response.body#/key_id"}),
    ],
    ("post", "/v1/establishments", "201"): [
        ("get", "/v1/establishments/{siret}", {"siret": "$response.body#/siret"}),
        ("post", "/v1/establishments/{siret}/users", {"siret": "$response.body#/siret"}),
    ],
}


def _links(schema: dict[str, Any]) -> None:
    paths = schema.get("paths", {})
    for (method, path, status), targets in LINKS.items():
        response = paths.get(path, {}).get(method, {}).get("responses", {}).get(status)
        if response is None:
            continue
        for target_method, target_path, parameters in targets:
            operation = paths.get(target_path, {}).get(target_method)
            if operation is not None:
                name = operation["operationId"]
                response.setdefault("links", {})[name] = {
                    "operationId": name,
                    "parameters": parameters,
                }


def documented(schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document with every error each operation may answer, as the problem+json it
    really sends (FastAPI's own 422 shape is not what clients get)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    problem = {"$ref": "#/components/schemas/Problem"}
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            statuses = [
                status
                for status in ((422, 503) if path in PUBLIC_PATHS else ERROR_STATUSES)
                if status != 429 or path in SIGN_IN_PATHS
            ]
            for status in statuses:
                responses[str(status)] = {
                    "description": ERROR_STATUSES[status],
                    "content": {PROBLEM_JSON: {"schema": problem}},
                }
    _links(schema)
    return schema


def _allowed(request: Request) -> list[str]:
    """The methods some route of the application answers at this request's path."""
    from starlette.routing import Match, Route

    methods: set[str] = set()
    for route in request.app.routes:
        if isinstance(route, Route) and route.methods:
            match, _ = route.matches({**request.scope, "method": next(iter(route.methods))})
            if match is Match.FULL:
                methods |= route.methods
    return sorted(methods)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem response, and document them."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = documented(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

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
        if exc.status_code == 400:  # a body FastAPI could not decode: malformed input
            return problem(422, "invalid_request", "the body is not valid JSON")
        code = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}.get(
            exc.status_code, "http_error"
        )
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:  # every method the path answers, not only one route's
            headers = {"Allow": ", ".join(_allowed(request))}
        return problem(exc.status_code, code, str(exc.detail), headers)

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
            "unexpected error on %s %s",
            request.method,
            getattr(request.scope.get("route"), "path", "?"),
            exc_info=exc,
        )
        return problem(500, "internal_error", "an unexpected error occurred")
