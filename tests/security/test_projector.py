"""The projection worker, as the application role: it survives a lost connection, and an event
it cannot apply stops it loudly (log, /readyz, `projections status`, /metrics), never silently."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from api.processes import CLI
from ledger.application import Ledger
from ledger.domain.regularisation import RegularisationRequest
from ledger.store.settings import Settings
from tests.security.conftest import LAST_YEAR, OWN, Deployment, deploy


@pytest.fixture(scope="module")
def own_deployment(
    postgres_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    """A deployment of this module's own: the last test breaks its views on purpose."""
    yield from deploy(postgres_server, tmp_path_factory.mktemp("projector"))


def credit(deployment: Deployment) -> int:
    with deployment.client("operator") as op:
        written = op.post(
            f"/v1/agents/{deployment.agents['in_scope']}/inaptitude-credits", json={"hours": 1}
        )
        assert written.status_code == 201
        return int(written.json()["position"])


def test_the_worker_reconnects_when_its_connection_drops(own_deployment: Deployment) -> None:
    worker = own_deployment.stack.worker
    assert worker is not None
    with own_deployment.as_owner() as conn:
        killed = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE usename = %s AND query ILIKE 'LISTEN%%'",
            (own_deployment.role,),
        ).fetchall()
    assert killed, "the worker listens for new events"
    position = credit(own_deployment)
    with own_deployment.client("operator") as op:
        read = op.get(
            f"/v1/agents/{own_deployment.agents['in_scope']}/balance",
            params={"min_position": position},
        )
        assert read.status_code == 200  # the worker applied it: it came back by itself
        assert op.get("/readyz").status_code == 200
    assert worker.poll() is None


def test_an_event_the_views_cannot_apply_is_reported_everywhere(
    own_deployment: Deployment,
) -> None:
    env = own_deployment.stack.env
    owner = Ledger(
        Settings(
            database_url=own_deployment.owner_url,
            id_key=env["LEDGER_ID_KEY"],
            audit_signing_key=env["LEDGER_AUDIT_SIGNING_KEY"],
            identity_keys=env["LEDGER_IDENTITY_KEYS"],
            environment="production",
        )
    )
    try:  # a request stored before the edge refused control characters: text holds no NUL
        request = RegularisationRequest._create(
            RegularisationRequest.Submitted,
            id=uuid.uuid4(),
            agent_id=uuid.UUID(own_deployment.agents["in_scope"]),
            siret=OWN,
            year=LAST_YEAR,
            hours=-1,
            attestation={"signatory": "M", "signature_date": "2025-01-01", "stamp_present": True},
            reason="a\u0000b",
            provenance={"principal": "legacy", "channel": "api"},
        )
        poison = owner.save(request)[-1].notification.id
    finally:
        owner.close()
    deadline = time.monotonic() + 30
    with own_deployment.client("operator") as op:
        while (ready := op.get("/readyz")).status_code == 200:
            assert time.monotonic() < deadline, "readiness never noticed"
            time.sleep(0.2)
        assert ready.status_code == 503
        assert f"position {poison}" in ready.json()["detail"]
        assert f"cpf_projector_stuck_position {poison}.0" in op.get("/metrics").text
    status = subprocess.run(
        [*CLI, "projections", "status", "--check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 1 and f"position {poison}" in status.stdout
    logged = own_deployment.stack.log_path.read_text()
    assert f'"position":{poison}' in logged and "a\\u0000b" not in logged
    with psycopg.connect(own_deployment.owner_url) as conn:
        kept = conn.execute(
            f'SELECT count(*) FROM "{own_deployment.role}".regularisation_requests',
        ).fetchone()
    assert kept == (0,)  # nothing less faithful than the ledger's record
