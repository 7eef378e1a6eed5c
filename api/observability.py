"""Structured JSON logs with a request id, and Prometheus metrics.

Log lines name the route template (``/v1/agents/{agent_id}/balance``), never a concrete path or a
request body, so no NIR can reach them; an exception is logged with its type and its frames, its
message only when it is one of our own (other libraries' messages may quote values). Metrics are
kept per process and, under several uvicorn workers, summed across them (prometheus-client's
multiprocess mode, set up by ``cpf-ledger serve``).
"""

from __future__ import annotations

import contextvars
import logging
import os
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from api.auth import MetricsReader

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

REQUESTS = Counter("cpf_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "cpf_http_request_duration_seconds", "HTTP request latency", ["method", "route"]
)
EVENTS = Counter("cpf_events_appended_total", "Events appended to the log")
BULK_LINES = Counter("cpf_bulk_lines_total", "Bulk file lines processed", ["kind", "status"])
# Read from the store when scraped: the most recent reading is the truth, whichever worker made it.
LAG = Gauge(
    "cpf_projector_lag_events",
    "Events not yet applied to a view",
    ["view"],
    multiprocess_mode="mostrecent",
)
STUCK = Gauge(
    "cpf_projector_stuck_position",
    "Position of an event the views cannot apply (0: none)",
    multiprocess_mode="mostrecent",
)
FAILURES = Gauge(
    "cpf_projector_failed_attempts",
    "Attempts at applying the event the views are stuck on",
    multiprocess_mode="mostrecent",
)
OURS = ("ledger.", "api.", "projections.")
log = logging.getLogger("cpf_ledger.access")


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the request id."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id.get(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = exception_fields(record.exc_info[1])
        return orjson.dumps(entry, default=str).decode()


def exception_fields(error: BaseException | None) -> dict[str, Any]:
    """An exception as a structured field: its type, its message if it is one of ours, and its
    traceback's frames (file, line, function)."""
    if error is None:
        return {}
    kind = type(error)
    ours = kind.__module__.startswith(OURS)
    return {
        "type": f"{kind.__module__}.{kind.__qualname__}",
        "message": str(error) if ours else None,
        "traceback": [
            {"file": frame.filename, "line": frame.lineno, "function": frame.name}
            for frame in traceback.extract_tb(error.__traceback__)
        ],
    }


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
        return Response(generate_latest(registry()), media_type=CONTENT_TYPE_LATEST)


def registry() -> CollectorRegistry:
    """Every worker's metrics together under uvicorn workers (multiprocess mode), else this
    process's."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    gathered = CollectorRegistry()
    multiprocess.MultiProcessCollector(gathered)  # type: ignore[no-untyped-call]
    return gathered


def prepare_multiprocess(workers: int) -> None:
    """Before uvicorn starts its workers: a fresh directory where each writes its metrics."""
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="cpf-metrics-")
