"""``Idempotency-Key`` on every write: the same key and body replay the first response; the same
key with another body is a conflict (409).

Responses are kept in the views' database. Commands on agents also carry the key into the
ledger, which makes them exactly-once even if the process dies between the event and the
response being remembered.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Annotated, Any

import orjson
from fastapi import Header, Request
from fastapi.responses import JSONResponse

from api.problems import ApiProblem
from ledger.domain.access import Principal
from projections.store import ViewStore

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="Makes a retried write safe: same key and body replay the first response",
    ),
]


class IdempotencyStore:
    """Remembered responses of writes, per principal and key."""

    def __init__(self, store: ViewStore) -> None:
        self.store = store
        with store.transaction() as cur:
            cur.execute(
                "CREATE TABLE IF NOT EXISTS api_idempotency (principal TEXT NOT NULL, "
                "key TEXT NOT NULL, request_hash TEXT NOT NULL, status INTEGER NOT NULL, "
                "body TEXT NOT NULL, PRIMARY KEY (principal, key))"
            )

    def lookup(self, principal: str, key: str) -> tuple[str, int, bytes] | None:
        with self.store.transaction(write=False) as cur:
            row = cur.execute(
                "SELECT request_hash, status, body FROM api_idempotency "
                "WHERE principal = %s AND key = %s",
                (principal, key),
            ).fetchone()
        return None if row is None else (row[0], int(row[1]), row[2].encode())

    def remember(
        self, principal: str, key: str, request_hash: str, status: int, body: bytes
    ) -> None:
        with self.store.transaction() as cur:
            cur.execute(
                "INSERT INTO api_idempotency VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT (principal, key) DO NOTHING",
                (principal, key, request_hash, status, body.decode()),
            )


def ledger_key(principal: Principal, key: str | None) -> str | None:
    """The idempotency key as the ledger records it: scoped to the principal."""
    return f"{principal.label}:{key}" if key else None


def idempotent(
    request: Request,
    store: IdempotencyStore,
    principal: Principal,
    key: str | None,
    payload: Any,
    handler: Callable[[], tuple[int, Any]],
    kept: Callable[[Any], Any] | None = None,
) -> JSONResponse:
    """Run a write once per (principal, key): replay its first response, or refuse another body.

    ``kept`` turns the first response into what is remembered (to leave a secret out).
    """
    if key is None:
        status, body = handler()
        return JSONResponse(body, status_code=status)
    request_hash = hashlib.sha256(
        orjson.dumps(
            [request.method, request.url.path, payload], option=orjson.OPT_SORT_KEYS, default=str
        )
    ).hexdigest()
    previous = store.lookup(principal.label, key)
    if previous is not None:
        if previous[0] != request_hash:
            raise ApiProblem(
                409,
                "idempotency_conflict",
                "this Idempotency-Key was already used with another request",
            )
        return JSONResponse(
            orjson.loads(previous[2]),
            status_code=previous[1],
            headers={"Idempotent-Replayed": "true"},
        )
    status, body = handler()
    first = orjson.loads(orjson.dumps(body, default=str))
    store.remember(
        principal.label, key, request_hash, status, orjson.dumps(kept(first) if kept else first)
    )
    return JSONResponse(first, status_code=status)
