"""The production shape without containers: PostgreSQL, the API under uvicorn and the projection
worker as separate processes. A write through HTTP is read back from views the worker built."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.processes import Stack, environment
from tests.factories import make_nir, make_siret

pytestmark = pytest.mark.postgres


@pytest.fixture
def processes(postgres_url: str, tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    env = environment(tmp_path, postgres_url, id_key="p" * 40)
    with Stack(env, tmp_path / "processes.log") as stack:
        token = stack.issue_key()
        stack.start_worker()
        stack.start_api()
        yield stack.base, token, stack.log_path


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


def test_a_campaign_status_is_the_same_from_every_worker_and_after_a_restart(
    postgres_url: str, tmp_path: Path
) -> None:
    """Four uvicorn workers, as the compose file runs them: a campaign started through one is
    reported by all, and still after the API restarts (its run is in the store)."""
    env = environment(tmp_path, postgres_url, id_key="w" * 40)
    siret = make_siret(78)
    header = "nir;birth_name;first_name;birth_date;siret;year;hours_worked"
    rows = [f"{make_nir(5000 + i)};Nom;Prénom;1990-01-01;{siret};2024;1607" for i in range(300)]
    rows.append(f"{make_nir(5999)};Nom;Prénom;1990-01-01;{siret};2016;1607")  # no CPF in 2016
    with Stack(env, tmp_path / "workers.log") as stack:
        token = stack.issue_key()
        stack.start_worker()
        stack.start_api(workers=4)
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=stack.base, headers=headers, timeout=30) as client:
            started = client.post(
                "/v1/campaigns",
                content="\n".join([header, *rows]).encode(),
                headers={"Content-Type": "text/csv"},
            )
            assert started.status_code == 202
            campaign = f"/v1/campaigns/{started.json()['campaign_id']}"
            seen = []
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                poll = client.get(campaign)  # each on a new connection: any of the workers
                client.cookies.clear()
                seen.append(poll.status_code)
                if poll.json().get("status") == "finished":
                    break
                time.sleep(0.05)
            for _ in range(12):
                with httpx.Client(base_url=stack.base, headers=headers, timeout=30) as fresh:
                    assert fresh.get(campaign).json() == poll.json()
            assert set(seen) == {200}, seen
            report = poll.json()
            assert (report["applied"], report["lines_read"]) == (300, 301)
            assert report["rejected"] == {"invalid_input": 1}
        stack.terminate(stack.api)
        stack.start_api(workers=2)
        with httpx.Client(base_url=stack.base, headers=headers, timeout=30) as client:
            assert client.get(campaign).json() == report
            again = client.post(
                "/v1/campaigns",
                content="\n".join([header, *rows]).encode(),
                headers={"Content-Type": "text/csv"},
            )
            assert again.json() == report  # the same file is the same campaign, already done


def test_metrics_are_summed_across_workers_and_logs_are_structured(
    postgres_url: str, tmp_path: Path
) -> None:
    env = environment(tmp_path, postgres_url, id_key="m" * 40)
    with Stack(env, tmp_path / "metrics.log") as stack:
        token = stack.issue_key()
        stack.start_api(workers=2)

        def scrape() -> tuple[float, str]:
            text = httpx.get(
                f"{stack.base}/metrics", headers={"Authorization": f"Bearer {token}"}
            ).text
            line = next(
                row
                for row in text.splitlines()
                if row.startswith("cpf_http_requests_total")
                and 'route="/healthz"' in row
                and 'status="200"' in row
            )
            return float(line.rsplit(" ", 1)[1]), text

        before, _ = scrape()
        for _ in range(40):  # a new connection each time: both workers answer some
            httpx.get(f"{stack.base}/healthz", headers={"X-Request-ID": "trace-me-42"})
        after, scraped = scrape()
    assert after - before == 40.0  # every worker's count, summed
    assert "cpf_http_request_duration_seconds_bucket" in scraped
    import json

    entries = [
        json.loads(row)
        for row in stack.log_path.read_text().splitlines()
        if row.startswith("{") and '"route":"/healthz"' in row
    ]
    traced = [entry for entry in entries if entry["request_id"] == "trace-me-42"]
    assert len(traced) == 40
    assert all(
        re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", e["time"]) for e in entries
    )
