"""People's accounts, managed: enabling a person (one at a time, or by a habilitation file),
deactivation, reactivation, reset. Who may is ``projections.scope``'s (operators; an
establishment's administrators, and those of its centraliser)."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from api.accounts.schemas import AccountIn, AccountOut, EnabledOut, ResetOut, UserFileOut
from api.auth import Administrator, Authenticated, Svc
from api.bootstrap import Services
from api.common import provenance
from api.files.endpoints import FILE_BODY, save_body
from api.idempotency import IdempotencyKey, idempotent
from ledger.accounts_service import Activation
from ledger.domain.access import Principal, Role
from ledger.domain.accounts import Account
from ledger.domain.errors import DepositNotFound
from ledger.domain.file_runs import UserFile
from ledger.domain.identifiers import Siret
from ledger.domain.provenance import Provenance
from ledger.files.habilitation import deposit_users
from projections import scope

router = APIRouter(prefix="/v1", tags=["accounts"])
T = TypeVar("T")


def _summary(svc: Services, account: Account) -> dict[str, object]:
    return account.summary(svc.accounts.profile_of(account))


def _managing(
    request: Request,
    principal: Principal,
    svc: Services,
    user_id: str,
    act: Callable[[str, Provenance], T],
) -> T:
    """``act`` on the account when the principal may manage it (else 403, or 404 out of its
    scope), with the request's provenance."""
    account = svc.accounts.account(user_id)
    scope.require_account_manager(principal, account.role, account.siret)
    return act(user_id, provenance(request, principal, None))


def _code(user_id: str, activation: Activation) -> dict[str, object]:
    return {"user_id": user_id, "activation": activation.as_dict()}


@router.post(
    "/users",
    status_code=201,
    response_model=EnabledOut,
    summary="Enable a person (operators; an establishment's administrators for its people): "
    "the activation code is e-mailed, or shown once",
)
def create_account(
    body: AccountIn,
    request: Request,
    principal: Authenticated,
    svc: Svc,
    idempotency_key: IdempotencyKey = None,
) -> object:
    role = Role(body.role)
    siret = Siret.parse(body.siret).value if body.siret else None
    scope.require_account_manager(principal, role, siret)

    def run() -> tuple[int, object]:
        enabled = svc.accounts.create(
            role,
            body.name,
            body.email,
            provenance(request, principal, idempotency_key),
            siret=siret,
            profile=body.profile,
            user_id=body.user_id,
        )
        return 201, {
            **_summary(svc, enabled.account),
            "activation": enabled.activation.as_dict(),
        }

    # A replay answers the same account but never the code again: it is not kept.
    return idempotent(
        request,
        svc.idempotency,
        principal,
        idempotency_key,
        body.model_dump(mode="json"),
        run,
        kept=lambda first: {**first, "activation": {**first["activation"], "code": None}},
    )


@router.get(
    "/users",
    response_model=list[AccountOut],
    summary="The accounts of an establishment's people",
)
def list_accounts(
    principal: Authenticated,
    svc: Svc,
    siret: Annotated[str, Query(min_length=14, max_length=20)],
) -> object:
    value = Siret.parse(siret).value
    scope.require_account_reader(principal, Role.EMPLOYER, value)
    return svc.accounts.accounts_of(value)


@router.get("/users/{user_id}", response_model=AccountOut, summary="A person's account")
def get_account(user_id: str, principal: Authenticated, svc: Svc) -> object:
    account = svc.accounts.account(user_id)
    scope.require_account_reader(principal, account.role, account.siret)
    return _summary(svc, account)


@router.post(
    "/users/{user_id}/deactivation",
    response_model=AccountOut,
    summary="Deactivate an account: it cannot sign in, its sessions end at once",
)
def deactivate(user_id: str, request: Request, principal: Authenticated, svc: Svc) -> object:
    _managing(request, principal, svc, user_id, svc.accounts.deactivate)
    return _summary(svc, svc.accounts.account(user_id))


@router.post(
    "/users/{user_id}/reactivation",
    response_model=AccountOut,
    summary="Reactivate a deactivated account",
)
def reactivate(user_id: str, request: Request, principal: Authenticated, svc: Svc) -> object:
    return _summary(svc, _managing(request, principal, svc, user_id, svc.accounts.reactivate))


@router.post(
    "/users/{user_id}/reset",
    response_model=ResetOut,
    summary="Reset an account: password and second factor forgotten, sessions ended, a new "
    "activation code (e-mailed, or shown once)",
)
def reset(user_id: str, request: Request, principal: Authenticated, svc: Svc) -> object:
    return _code(user_id, _managing(request, principal, svc, user_id, svc.accounts.reset))


@router.post(
    "/users/{user_id}/activation-code",
    response_model=ResetOut,
    summary="A new activation code for an account not activated yet (the last one expired or "
    "was lost); the earlier code stops working",
)
def activation_code(user_id: str, request: Request, principal: Authenticated, svc: Svc) -> object:
    issue = svc.accounts.issue_activation
    return _code(user_id, _managing(request, principal, svc, user_id, issue))


@router.post(
    "/user-files",
    status_code=201,
    response_model=UserFileOut,
    openapi_extra=FILE_BODY,
    summary="Deposit a habilitation file (administration, operator): the per-line report, with "
    "the activation codes shown once",
)
async def deposit(
    request: Request,
    principal: Administrator,
    svc: Svc,
    filename: Annotated[str, Query(max_length=200)] = "habilitations.csv",
) -> object:
    allowed = scope.manageable_sirets(principal)
    owner = scope.habilitation_owner(principal)
    where = provenance(request, principal, None)
    with tempfile.TemporaryDirectory() as directory:
        path = await save_body(request, directory)
        result = await run_in_threadpool(
            deposit_users,
            svc.accounts,
            path,
            filename,
            where,
            owner,
            principal.siret,
            allowed,
        )
    return {**result.file.summary(), "report": result.report()}


@router.get(
    "/user-files/{deposit_id}",
    response_model=UserFileOut,
    summary="A habilitation file's report (no activation code: they were shown once)",
)
def deposit_report(deposit_id: uuid.UUID, principal: Authenticated, svc: Svc) -> object:
    missing = DepositNotFound("no such deposit")
    found = svc.ledger.aggregate(deposit_id, UserFile, missing)
    if not scope.owns_document(principal, found.scope):
        raise missing
    return {**found.summary(), "report": [{**line, "activation": None} for line in found.lines]}
