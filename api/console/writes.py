"""How a console form writes: through the same commands, services and idempotency as the JSON
API, with the console as the channel in the provenance.

Every form carries a key made when the page was drawn (a hidden field): sent twice (a double
click, a page reloaded), it is applied once, like an ``Idempotency-Key``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import orjson
from fastapi import Request
from pydantic import BaseModel, ValidationError

from api.bootstrap import Services
from api.common import provenance
from api.idempotency import idempotent
from ledger.domain.access import Principal
from ledger.domain.errors import InvalidInput
from ledger.domain.provenance import Channel, Provenance


def console_provenance(request: Request, principal: Principal, key: str | None) -> Provenance:
    """Where a console write comes from: the person, the console, the request, the form's key."""
    return replace(provenance(request, principal, key or None), channel=Channel.CONSOLE)


def once(
    request: Request,
    svc: Services,
    principal: Principal,
    key: str | None,
    payload: Any,
    run: Callable[[], tuple[int, Any]],
    kept: Callable[[Any], Any] | None = None,
) -> dict[str, Any]:
    """Run a write once per form key (the API's idempotency store); what it answered."""
    response = idempotent(request, svc.idempotency, principal, key or None, payload, run, kept=kept)
    answer: dict[str, Any] = orjson.loads(bytes(response.body))
    return answer


def body(schema: type[BaseModel], **fields: Any) -> Any:
    """The API's request body built from a form's fields: the same checks, field by field (a
    refusal names the fields in French, never their values)."""
    try:
        return schema.model_validate(fields)
    except ValidationError as invalid:
        from api.console.messages import field

        names = sorted({field(error["loc"]) for error in invalid.errors()})
        raise InvalidForm("invalid fields: " + ", ".join(names), fields=names) from None


class InvalidForm(InvalidInput):
    """A console form whose fields the API's schema refuses (named, never repeated)."""

    code = "invalid_form"
