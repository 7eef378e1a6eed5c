"""Structured JSON logs with a request id, and Prometheus metrics.

Log lines name the route template (``/v1/agents/{agent_id}/balance``), never a concrete path or a
request body, so no NIR can reach them.
"""

from __future__ import annotations

import contextvars
import logging
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

from api.auth import MetricsReader

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

REQUESTS = Counter("cpf_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("cpf_http_request_seconds", "HTTP request latency", ["method", "route"])
EVENTS = Counter("cpf_events_appended_total", "Events appended to the log by this process")
BULK_LINES = Counter("cpf_bulk_lines_total", "Bulk file lines processed", ["kind", "status"])
LAG = Gauge("cpf_projector_lag_events", "Events not yet applied to a view", ["view"])
STUCK = Gauge(
    "cpf_projector_stuck_position", "Position of an event the views cannot apply (0: none)"
)
FAILURES = Gauge(
    "cpf_projector_failed_attempts", "Attempts at applying the event the views are stuck on"
)
log = logging.getLogger("cpf_ledger.access")


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the request id."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id.get(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["error"] = record.exc_info[0].__name__ if record.exc_info[0] else "error"
        return orjson.dumps(entry).decode()


def configure_logging(level: int = logging.INFO) -> None:
    """JSON lines on standard error for our loggers and uvicorn's (its access log is replaced by
    ours, which names route templates rather than paths)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True


def install(app: FastAPI) -> None:
    """The request-id and metrics middleware, and ``/metrics``."""

    @app.middleware("http")
    async def observe(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        rid = request.headers.get("x-request-id") or uuid.uuid4().hex
        if len(rid) > 100 or not rid.isprintable():
            rid = uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            response.headers["X-Request-Id"] = rid
            return response
        finally:
            route = getattr(request.scope.get("route"), "path", "unmatched")
            seconds = time.perf_counter() - started
            REQUESTS.labels(request.method, route, str(status)).inc()
            LATENCY.labels(request.method, route).observe(seconds)
            principal = getattr(request.state, "principal", None)
            log.info(
                "request",
                extra={
                    "fields": {
                        "request_id": rid,
                        "method": request.method,
                        "route": route,
                        "status": status,
                        "ms": round(seconds * 1000, 1),
                        "principal": principal.label if principal else None,
                    }
                },
            )
            request_id.reset(token)

    @app.get(
        "/metrics",
        tags=["operations"],
        summary="Prometheus metrics (an operator's key)",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
    )
    def metrics(request: Request, reader: MetricsReader) -> Response:
        services = request.app.state.services
        try:
            head = services.ledger.recorder.max_notification_id() or 0
            for view, position in services.projector.positions().items():
                LAG.labels(view).set(head - position)
            failure = services.health.current()
            STUCK.set(0 if failure is None else failure["failing_position"])
            FAILURES.set(0 if failure is None else failure["attempts"])
        except Exception:  # the store is down: serve the other metrics anyway
            pass
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
