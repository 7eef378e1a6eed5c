"""What the edge refuses before any route runs: bodies beyond their limit (counted as they stream
in, whatever ``Content-Length`` says), callers without a valid key (before a byte of their body
is read), and control characters in a URL.

A pure ASGI middleware: it never buffers a body; a request over its limit gets a 413 problem as
soon as the limit is passed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_BODY_BYTES = 1_000_000
MAX_FILE_BYTES = 200 * 1024 * 1024
FILE_ROUTES = frozenset(
    {"/v1/decrement-files", "/v1/campaigns", "/decrementations/fichiers", "/operateur/campagnes"}
)
"""The routes that take a whole file: the API's, and the console's forms that upload one."""
MAX_SCAN_FORM_BYTES = 6 * 1024 * 1024
SCAN_ROUTES = frozenset({"/regularisations"})
"""The console's regularisation request: its form with the attestation's scan (5 MiB at most,
checked again on its content)."""
CONTROL = re.compile(rb"[\x00-\x1f\x7f]")
OPEN_PATHS = frozenset({"/v1/sessions", "/v1/activations", "/v1/activations/enrolment"})
"""The /v1 paths a person reaches with no credentials yet: signing in and activating (the
authorisation matrix checks these are all the public /v1 routes)."""


class BodyTooLarge(HTTPException):
    """Raised by the counted ``receive`` as soon as a body passes its limit (an HTTPException,
    so that a route reading its body answers the 413 problem too)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request bodies are limited to {limit} bytes")
        self.limit = limit


def body_limit(path: str) -> int:
    if path in FILE_ROUTES:
        return MAX_FILE_BYTES
    return MAX_SCAN_FORM_BYTES if path in SCAN_ROUTES else MAX_BODY_BYTES


def problem_body(status: int, code: str, detail: str, **extra: Any) -> bytes:
    titles = {
        401: "Unauthorized",
        413: "Content Too Large",
        422: "Unprocessable Content",
        503: "Service Unavailable",
    }
    return json.dumps(
        {
            "type": f"/problems/{code}",
            "title": titles.get(status, "Error"),
            "status": status,
            "detail": detail,
            **extra,
        }
    ).encode()


async def send_problem(
    send: Send,
    status: int,
    code: str,
    detail: str,
    headers: list[tuple[bytes, bytes]] = (),  # type: ignore[assignment]
) -> None:
    body = problem_body(status, code, detail)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Edge:
    """The first thing every HTTP request meets."""

    def __init__(
        self, app: ASGIApp, authenticate: Callable[[Scope, str], bool] | None = None
    ) -> None:
        self.app = app
        self.authenticate = authenticate  # (scope, token) -> valid; run before any body is read

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        raw_path = scope.get("raw_path") or path.encode()
        if CONTROL.search(unquote_to_bytes(raw_path)) or CONTROL.search(
            unquote_to_bytes(scope.get("query_string", b""))
        ):
            await send_problem(
                send, 422, "invalid_request", "the URL holds control characters (refused)"
            )
            return
        limit = body_limit(path)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await send_problem(
                send, 413, "body_too_large", f"request bodies are limited to {limit} bytes"
            )
            return
        if path.startswith("/v1/") and path not in OPEN_PATHS and self.authenticate is not None:
            try:
                refusal = await self._refuse_unauthenticated(scope, headers)
            except Exception:  # the store is down or busy: fail fast, the client retries
                await send_problem(
                    send,
                    503,
                    "store_unavailable",
                    "the store is unavailable or busy; retry later",
                    [(b"retry-after", b"1")],
                )
                return
            if refusal is not None:
                await send_problem(send, 401, *refusal, [(b"www-authenticate", b"Bearer")])
                return
        await self._guarded(scope, receive, send, limit)

    async def _refuse_unauthenticated(
        self, scope: Scope, headers: dict[bytes, bytes]
    ) -> tuple[str, str] | None:
        """401 before the body is read: no key, or a key that is unknown or revoked."""
        value = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            if headers.get(b"cookie"):
                return None  # a browser session: the route's requirement judges it
            return "unauthenticated", "a bearer API key is required"
        assert self.authenticate is not None
        if not await run_in_threadpool(self.authenticate, scope, token.strip()):
            return "invalid_key", "this API key is unknown or revoked"
        return None

    async def _guarded(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except BodyTooLarge as too_large:
            if started:
                raise
            await send_problem(
                send,
                413,
                "body_too_large",
                f"request bodies are limited to {too_large.limit} bytes",
                [(b"connection", b"close")],
            )
