"""A production-like deployment to attack: PostgreSQL set up by its owner with
``cpf-ledger db setup``, the API under uvicorn and the projection worker running as the
application role, in production mode with keys; tests act as an outside caller (HTTP) or as the
role itself (SQL), never through the test client."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from api.processes import Stack, cli, environment
from tests.factories import make_nir, make_siret

pytestmark = pytest.mark.postgres
LAST_YEAR = __import__("datetime").date.today().year - 1
OWN, OTHER = make_siret(41), make_siret(42)
SIGNING_KEY = "5" * 64
IDENTITY_KEY = "k1:" + "6" * 64


@dataclass
class Deployment:
    stack: Stack
    owner_url: str
    app_url: str
    role: str
    tokens: dict[str, str]
    agents: dict[str, str] = field(default_factory=dict)  # name -> agent id
    nirs: dict[str, str] = field(default_factory=dict)

    def client(self, who: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return httpx.Client(base_url=self.stack.base, headers=headers, timeout=60)

    def as_role(self) -> psycopg.Connection[Any]:
        """A SQL session as the application role: what a compromised service could do."""
        return psycopg.connect(self.app_url, autocommit=True)

    def as_owner(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.owner_url, autocommit=True)

    def owner_env(self) -> dict[str, str]:
        env = dict(self.stack.env)
        env.update(LEDGER_DATABASE_URL=self.owner_url, LEDGER_CREATE_TABLES="true")
        return env


def _database(admin_url: str) -> tuple[str, str]:
    name = f"cpf_sec_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, f"{admin_url.rsplit('/', 1)[0]}/{name}"


def deploy(admin_url: str, directory: Path, seed: bool = True) -> Iterator[Deployment]:
    """Set a database up as its owner, then run the service as the application role."""
    name, owner_url = _database(admin_url)
    role = f"cpf_app_{uuid.uuid4().hex[:8]}"
    app_url = owner_url.replace("://postgres@", f"://{role}@")
    settings = {
        "id_key": "s" * 40,
        "environment": "production",
        "audit_signing_key": SIGNING_KEY,
        "identity_keys": IDENTITY_KEY,
    }
    cli(environment(directory, owner_url, **settings), "db", "setup", "--app-role", role)
    env = environment(directory, app_url, create_tables="false", **settings)
    stack = Stack(env, directory / "stack.log")
    try:
        tokens = {"operator": stack.issue_key(), "auditor": stack.issue_key("auditor", "audit")}
        stack.start_worker()
        stack.start_api()
        deployment = Deployment(stack, owner_url, app_url, role, tokens)
        if seed:
            _seed(deployment)
        yield deployment
    finally:
        stack.stop()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')


def _seed(deployment: Deployment) -> None:
    """Two establishments with users and keys, agents in and out of OWN's scope."""
    with deployment.client("operator") as op:
        for siret, label in ((OWN, "Mairie"), (OTHER, "Hôpital")):
            assert op.post("/v1/establishments", json={"siret": siret, "name": label}).is_success
        for who, siret, profile in (
            ("own_gestion", OWN, "gestion"),
            ("own_consultation", OWN, "consultation"),
            ("own_admin", OWN, "administration"),
            ("other_admin", OTHER, "administration"),
        ):
            user = op.post(
                f"/v1/establishments/{siret}/users", json={"name": who, "profile": profile}
            ).json()["user_id"]
            deployment.tokens[who] = op.post(
                "/v1/keys",
                json={"role": "employer", "name": who, "siret": siret, "user_id": user},
            ).json()["token"]
        for name, seq, siret, years in (
            ("in_scope", 1, OWN, [LAST_YEAR]),
            ("other", 2, OTHER, [LAST_YEAR]),
            ("old", 3, OWN, [LAST_YEAR - 2]),
        ):
            nir = make_nir(9100 + seq)
            agent = op.post(
                "/v1/agents",
                json={
                    "nir": nir,
                    "birth_name": "Durand",
                    "first_name": "Lou",
                    "birth_date": "1990-01-01",
                },
            ).json()["agent_id"]
            for year in years:
                op.post(
                    f"/v1/agents/{agent}/acquisitions",
                    json={"year": year, "siret": siret, "hours_worked": 1607},
                )
            deployment.agents[name], deployment.nirs[name] = agent, nir


@pytest.fixture(scope="module")
def deployment(
    postgres_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    """One deployment shared by a module's tests (they do not break it)."""
    yield from deploy(postgres_server, tmp_path_factory.mktemp("deployment"))


def head(deployment: Deployment) -> int:
    with deployment.client("operator") as op:
        return int(op.get("/readyz").json().get("head", 0))


def rss_mib(pid: int) -> float:
    """Resident memory of a process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


__all__ = ["LAST_YEAR", "OTHER", "OWN", "Deployment", "deploy", "head", "os", "rss_mib"]
