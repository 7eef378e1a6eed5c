"""The FastAPI application: its services built once per process by the composition root."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import docs, observability, problem_types, problems
from api.access import endpoints as access
from api.accounts import endpoints as accounts
from api.agents import endpoints as agents
from api.audit import endpoints as audit
from api.auth import authenticate_at_the_edge
from api.bootstrap import bootstrap
from api.console import pages as console
from api.decrements import endpoints as decrements
from api.edge import Edge
from api.employers import endpoints as employers
from api.files import endpoints as files
from api.operations import endpoints as operations
from api.regularisations import endpoints as regularisations
from api.security_headers import SecurityHeaders
from api.sessions import endpoints as sessions
from ledger.store.settings import Settings
from projections.follower import follow

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
                target=follow, args=(svc.projector, stop), name="projector", daemon=True
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
        docs_url=None,
        redoc_url=None,
    )
    docs.install(app)
    app.include_router(problem_types.router)
    problems.install(app)
    app.add_middleware(Edge, authenticate=authenticate_at_the_edge)  # inside observability's
    observability.install(app)
    app.add_middleware(SecurityHeaders)  # outermost: every response, the edge's refusals too

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
    for router in console.ROUTERS:  # the web console's pages, on the same services
        app.include_router(router)
    return app
