"""The FastAPI application: one Ledger per process, built in the lifespan."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from ledger.application import Ledger
from ledger.settings import Settings
from projections.runner import Projector


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API around one ledger application (created at start-up, closed at shutdown)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ledger = Ledger(settings)
        projector = Projector(ledger)
        app.state.ledger, app.state.projector = ledger, projector
        stop = threading.Event()
        worker = None
        if settings.runs_projector_in_process:
            worker = threading.Thread(
                target=projector.follow, args=(stop,), name="projector", daemon=True
            )
            worker.start()
        try:
            yield
        finally:
            stop.set()
            if worker is not None:
                worker.join(timeout=5)
            ledger.close()

    app = FastAPI(
        title="CPF Ledger",
        version="0.1.0",
        summary="Training-hour counters (CPF) of French public agents, as an immutable history.",
        lifespan=lifespan,
    )

    @app.get("/healthz", tags=["operations"], summary="The process is up")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
