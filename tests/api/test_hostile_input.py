"""Hostile input: schemathesis over the whole OpenAPI schema, with a valid key of each role,
against the API under uvicorn (embedded store). No 5xx, no response that breaks its schema."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import date

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from api.processes import Stack, environment
from tests.factories import make_nir, make_siret


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    data = tmp_path_factory.mktemp("hostile")
    env = environment(data, id_key="h" * 40)
    setup = (
        "from datetime import date\n"
        "from ledger.application import Ledger\n"
        "from ledger.domain.access import Profile, Role\n"
        "from ledger.access_service import AccessService\n"
        "from ledger.domain.provenance import Channel, Provenance\n"
        "from tests.commands import record_line, register_agent\n"
        "p = Provenance('setup', Channel.CLI); l = Ledger(); a = AccessService(l)\n"
        f"a.register_establishment('{make_siret(1)}', 'E', p)\n"
        f"u = a.grant_user('{make_siret(1)}', 'rh', Profile.ADMINISTRATION, p)\n"
        f"r = register_agent(l, '{make_nir(1)}', 'Nom', 'P', date(1980, 1, 1), p)\n"
        f"record_line(l, r.agent_id, {date.today().year - 1}, '{make_siret(1)}', 1607, p)\n"
        "for role in ('operator', 'auditor'):\n"
        "    print(role, a.issue_key(Role(role), role, p)[0])\n"
        f"print('employer', a.issue_key(Role.EMPLOYER, 'rh', p, siret='{make_siret(1)}', user_id=u)[0])\n"
    )
    lines = subprocess.run(
        [sys.executable, "-c", setup], env=env, check=True, capture_output=True, text=True
    ).stdout.split("\n")
    tokens = dict(line.split(" ", 1) for line in lines if line.strip())
    with Stack(env, data / "server.log") as stack:
        stack.start_api()
        yield stack.base, tokens


def fuzz(server: tuple[str, dict[str, str]], role: str, examples: int = 10) -> list[str]:
    """Run schemathesis's generated requests for every operation; the failures found."""
    base, tokens = server
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path == "/v1/projections/rebuild":
            continue  # a background rebuild for every example would only slow the run
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=examples,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(
                base_url=base,
                headers={"Authorization": f"Bearer {tokens[role]}"},
                checks=[not_a_server_error, response_schema_conformance],
                timeout=30,
            )

        try:
            run()
        except Exception as failure:
            failures.append(f"{operation.method.upper()} {operation.path}: {failure}"[:600])
    assert operations > 40
    return failures


@pytest.mark.parametrize("role", ["operator", "auditor", "employer"])
def test_no_server_error_and_no_schema_break(server: tuple[str, dict[str, str]], role: str) -> None:
    failures = fuzz(server, role, int(os.environ.get("FUZZ_EXAMPLES", "10")))
    assert failures == [], "\n\n".join(failures)


def test_huge_pages_and_enormous_files_are_refused(server: tuple[str, dict[str, str]]) -> None:
    base, tokens = server
    auth = {"Authorization": f"Bearer {tokens['operator']}"}
    page = httpx.get(f"{base}/v1/regularisations?limit=100000", headers=auth)
    assert page.status_code == 422
    # An enormous file announced by its Content-Length is refused before it is read.
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as raw:
        raw.sendall(
            f"POST /v1/decrement-files HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {tokens['operator']}\r\nContent-Type: text/csv\r\n"
            f"Content-Length: {300 * 1024 * 1024}\r\n\r\nnir;".encode()
        )
        status_line = raw.recv(200).split(b"\r\n")[0]
    assert b" 413 " in status_line
    body = httpx.post(
        f"{base}/v1/agents",
        headers={**auth, "Content-Type": "application/json"},
        content=b"[" * 2_000_000,
    )
    assert body.status_code == 413
