"""The objects one API process builds at start-up and shares between requests."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from api.idempotency import IdempotencyStore
from ledger.access_service import AccessService
from ledger.application import Ledger
from projections.queries import Queries
from projections.runner import Projector
from projections.trail import CheckpointStore, ReadTrail


@dataclass
class Services:
    ledger: Ledger
    access: AccessService
    projector: Projector
    queries: Queries
    idempotency: IdempotencyStore
    trail: ReadTrail
    checkpoints: CheckpointStore


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc
