"""The composition root: the one place that builds the services of a process.

The HTTP application, the command line, the benchmarks and the process tests all get their
ledger, queries, projector and stores from :func:`bootstrap`, so each is wired one way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from api.background import Background
from api.console.jobs import JobStore
from api.idempotency import IdempotencyStore
from api.principals import PrincipalCache
from ledger.access_service import AccessService
from ledger.accounts_service import AccountService
from ledger.application import Ledger
from ledger.store.credentials import CredentialStore, SecretSealer
from ledger.store.scans import ScanStore
from ledger.store.settings import Settings
from projections.follower import Health
from projections.queries import Queries
from projections.runner import Projector
from projections.trail import CheckpointStore, ReadTrail


@dataclass
class Services:
    """What one process shares between its requests or commands."""

    settings: Settings
    ledger: Ledger
    access: AccessService
    projector: Projector
    queries: Queries
    idempotency: IdempotencyStore
    trail: ReadTrail
    checkpoints: CheckpointStore
    health: Health
    accounts: AccountService
    principals: PrincipalCache
    scans: ScanStore
    jobs: JobStore
    background: Background = field(default_factory=Background)

    def close(self, timeout: float = 30.0) -> None:
        """Join background work, then close the stores."""
        self.background.join(timeout)
        self.projector.store.close()
        self.ledger.close()


def bootstrap(settings: Settings | None = None) -> Services:
    """Build the services on the store the settings name (one Ledger per process: keep it)."""
    settings = settings or Settings()
    ledger = Ledger(settings)
    projector = Projector(ledger)
    store = projector.store
    principals = PrincipalCache(settings.key_cache_seconds)
    access = AccessService(ledger)
    access.on_change = principals.clear
    return Services(
        settings=settings,
        ledger=ledger,
        access=access,
        projector=projector,
        queries=Queries(store),
        idempotency=IdempotencyStore(store),
        trail=ReadTrail(store, settings.trail_batch_max),
        checkpoints=CheckpointStore(store),
        health=Health(store),
        accounts=AccountService(
            ledger, access, CredentialStore(store, SecretSealer(ledger.cipher.keys)), settings
        ),
        principals=principals,
        scans=ScanStore(store),
        jobs=JobStore(store),
    )


async def services(request: Request) -> Services:
    """FastAPI dependency: the application's services (async: it never waits for a thread)."""
    svc: Services = request.app.state.services
    return svc
