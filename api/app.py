"""The FastAPI application: its services built once per process by the composition root."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response

from api import observability, problems
from api.access import endpoints as access
from api.accounts import endpoints as accounts
from api.agents import endpoints as agents
from api.audit import endpoints as audit
from api.bootstrap import bootstrap
from api.decrements import endpoints as decrements
from api.employers import endpoints as employers
from api.files import endpoints as files
from api.operations import endpoints as operations
from api.regularisations import endpoints as regularisations
from api.sessions import endpoints as sessions
from ledger.store.settings import Settings

MAX_BODY_BYTES = 1_000_000
FILE_ROUTES = {"/v1/decrement-files", "/v1/campaigns"}

DESCRIPTION = """
Training-hour counters (CPF) of French public agents, kept as an immutable history.

Authenticate with `Authorization: Bearer <API key>`. Agents are addressed by an opaque id; a NIR is
only ever sent in a request body (`POST /v1/agents/lookup`), never in a URL. Errors are
`application/problem+json` (RFC 9457) with a stable `type`. Every write accepts an
`Idempotency-Key`, and returns the log `position` to pass as `min_position` to read it back.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API around one ledger application (created at start-up, closed at shutdown)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = app.state.services = bootstrap(settings)
        svc.ledger.on_recorded = observability.EVENTS.inc
        stop = threading.Event()
        worker = None
        if settings.runs_projector_in_process:
            worker = threading.Thread(
                target=svc.projector.follow, args=(stop,), name="projector", daemon=True
            )
            worker.start()
        try:
            yield
        finally:
            stop.set()
            if worker is not None:
                worker.join(timeout=5)
            svc.close(timeout=30)

    app = FastAPI(
        title="CPF Ledger",
        version="0.1.0",
        description=DESCRIPTION,
        summary="Training-hour counters (CPF) of French public agents, as an immutable history.",
        lifespan=lifespan,
    )
    problems.install(app)
    observability.install(app)

    @app.middleware("http")
    async def limit_body(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        length = request.headers.get("content-length")
        limit = files.MAX_FILE_BYTES if request.url.path in FILE_ROUTES else MAX_BODY_BYTES
        if length is not None and (not length.isdigit() or int(length) > limit):
            return problems.problem(
                413, "body_too_large", f"request bodies are limited to {limit} bytes"
            )
        return await call_next(request)

    for module in (
        operations,
        agents,
        decrements,
        employers,
        regularisations,
        access,
        audit,
        files,
        accounts,
        sessions,
    ):
        app.include_router(module.router)
    return app
