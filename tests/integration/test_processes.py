"""The production shape without containers: PostgreSQL, the API under uvicorn and the projection
worker as separate processes. A write through HTTP is read back from views the worker built."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.factories import make_nir, make_siret

pytestmark = pytest.mark.postgres
CLI = [sys.executable, "-c", "from api.cli import app; app()"]


def wait_until_healthy(base: str, seconds: float = 20) -> None:
    """Poll /healthz until the server answers."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"{base} did not start"
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def environment(postgres_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "LEDGER_DATABASE_URL": postgres_url,
        "LEDGER_ID_KEY": "p" * 40,
        "LEDGER_DATA_DIR": str(tmp_path),
        "LEDGER_PROJECTOR_IN_PROCESS": "false",
    }


@pytest.fixture
def processes(environment: dict[str, str], tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    token = (
        subprocess.run(
            [*CLI, "keys", "issue", "--role", "operator", "--name", "ops"],
            env=environment,
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    port = free_port()
    log = tmp_path / "processes.log"
    with log.open("w") as out:
        worker = subprocess.Popen(
            [*CLI, "projections", "run"], env=environment, stdout=out, stderr=subprocess.STDOUT
        )
        api = subprocess.Popen(
            [*CLI, "serve", "--port", str(port)],
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(base)
            yield base, token, log
        finally:
            for process in (api, worker):
                process.send_signal(signal.SIGTERM)
            for process in (api, worker):
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()


def test_api_and_worker_as_separate_processes(processes: tuple[str, str, Path]) -> None:
    base, token, log = processes
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        siret = make_siret(77)
        assert (
            client.post("/v1/establishments", json={"siret": siret, "name": "M"}).status_code == 201
        )
        agent = client.post(
            "/v1/agents",
            json={
                "nir": make_nir(77),
                "birth_name": "Nom",
                "first_name": "P",
                "birth_date": "1980-01-01",
            },
        ).json()["agent_id"]
        written = client.post(
            f"/v1/agents/{agent}/acquisitions",
            json={"year": 2024, "siret": siret, "hours_worked": 1607},
        ).json()
        balance = client.get(
            f"/v1/agents/{agent}/balance", params={"min_position": written["position"]}
        ).json()
        assert balance["balance"] == 25  # the views were built by the worker process
        ready = client.get("/readyz").json()
        assert ready["status"] == "ready" and max(ready["lag_events"].values()) == 0
        assert "cpf_http_requests_total" in client.get("/metrics").text
    logged = log.read_text()
    assert '"route":"/v1/agents/{agent_id}/balance"' in logged
    assert make_nir(77) not in logged


def test_64_concurrent_decrements_on_hot_agents(
    processes: tuple[str, str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    base, token, _ = processes
    headers = {"Authorization": f"Bearer {token}"}
    siret = make_siret(78)
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        client.post("/v1/establishments", json={"siret": siret, "name": "M"})
        agents = {}
        for seq in (80, 81, 82):
            agent = client.post(
                "/v1/agents",
                json={
                    "nir": make_nir(seq),
                    "birth_name": "Nom",
                    "first_name": "P",
                    "birth_date": "1980-01-01",
                },
            ).json()["agent_id"]
            for year in range(2017, 2025):  # 150 h, the ceiling
                client.post(
                    f"/v1/agents/{agent}/acquisitions",
                    json={"year": year, "siret": siret, "hours_worked": 1607},
                )
            agents[seq] = agent

    def decrement(i: int) -> tuple[int, int, int, str]:
        seq = 80 if i % 2 == 0 else 81 + i % 2  # half on one agent, the rest on two others
        hours = 4 + i % 7  # more than the hot agent holds: some must be refused
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            response = client.post(
                "/v1/decrements",
                json={
                    "nir": make_nir(seq),
                    "birth_name": "Nom",
                    "siret": siret,
                    "hours": hours,
                    "training": {"title": f"T{i}", "start": "2025-03-01", "end": "2025-03-02"},
                },
            )
        kind = response.json().get("type", "") if response.status_code != 201 else ""
        return seq, hours, response.status_code, kind

    with ThreadPoolExecutor(64) as pool:
        results = list(pool.map(decrement, range(64)))
    assert {status for _, _, status, _ in results} <= {201, 409}
    assert {kind for _, _, status, kind in results if status == 409} <= {
        "/problems/insufficient_balance"
    }
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        for seq, agent in agents.items():
            accepted = [hours for s, hours, status, _ in results if s == seq and status == 201]
            history = client.get(
                f"/v1/agents/{agent}/movements",
                params={
                    "kind": "Decremented",
                    "limit": 500,
                    "min_position": client.get("/readyz").json()["head"],
                },
            ).json()["items"]
            replay = client.get(f"/v1/audit/agents/{agent}/replay").json()
            assert len(history) == len(accepted)  # none lost, none applied twice
            assert sum(-m["hours"] for m in history) == sum(accepted)
            assert replay["balance"] == 150 - sum(accepted) >= 0
            assert replay["differs_from_views"] is False
    refused = sum(1 for *_, status, _ in results if status == 409)
    with capsys.disabled():  # the figures show in the CI log
        print(
            f"\nconcurrency drill: 64 requests sent, {64 - refused} accepted, {refused} refused "
            "(insufficient balance), lost 0, duplicated 0"
        )
