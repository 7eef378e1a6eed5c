"""HTTP load over loopback against uvicorn on PostgreSQL, next to baselines from the same run.

    .venv/bin/python -m bench.api [SECONDS_PER_PHASE] [CONCURRENCY]     (defaults: 10 and 32)

Phases: a no-op endpoint (/healthz), balance reads, history pages (50 movements) with
CONCURRENCY clients, decrement writes with 16 clients; then the store's raw single-event append
rate (one command and one transaction per event, one after the other, in process).
Prints requests/s with p50/p99 latencies and the ratios; asserts nothing.
"""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
import threading
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import httpx
import psycopg

from api.processes import Stack, environment
from bench.common import nir, scratch_database
from ledger import commands as cmd
from ledger.application import Ledger
from ledger.domain.agent import Identity
from ledger.domain.provenance import Channel, Provenance
from ledger.store.settings import Settings

AGENTS = 2000
WRITERS = 16
SIRET = "21750001600019"


def populate(ledger: Ledger) -> list[str]:
    source = Provenance("operator:bench", Channel.CAMPAIGN)

    def commands():  # type: ignore[no-untyped-def]
        for seq in range(AGENTS):
            agent_id = ledger.agent_id(nir(seq))
            yield cmd.RegisterAgent(
                agent_id=agent_id,
                identity=Identity(nir(seq), "NOM", "Prenom", date(1980, 1, 1)),
                effective_date=date(2018, 1, 1),
                provenance=source,
            )
            for year in range(2017, 2025):
                yield cmd.RecordAcquisitionLine(
                    agent_id=agent_id,
                    year=year,
                    siret=SIRET,
                    hours_worked=Decimal(1607),
                    provenance=source,
                )

    for _ in ledger.execute_many(commands()):
        pass
    return [ledger.agent_id(nir(seq)).hex for seq in range(AGENTS)]


async def phase(base: str, token: str, seconds: float, concurrency: int, request) -> dict:  # type: ignore[no-untyped-def]
    latencies: list[float] = []
    errors = 0
    statuses: list[int] = []
    deadline = time.perf_counter() + seconds

    async def client_loop() -> None:
        nonlocal errors
        async with httpx.AsyncClient(
            base_url=base, timeout=30, headers={"Authorization": f"Bearer {token}"}
        ) as client:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    response = await request(client)
                except httpx.TransportError:
                    errors += 1
                    statuses.append(0)  # the connection failed
                    continue
                latencies.append(time.perf_counter() - started)
                if response.status_code >= 400:
                    errors += 1
                    statuses.append(response.status_code)

    started = time.perf_counter()
    await asyncio.gather(*(client_loop() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50": latencies[len(latencies) // 2] * 1000,
        "p99": latencies[int(len(latencies) * 0.99)] * 1000,
        "errors": errors,
        "requests": len(latencies),
        "statuses": sorted(set(statuses)),
    }


def concurrent_appends(ledger: Ledger, threads: int, seconds: float) -> float:
    """Decrements per second when ``threads`` threads execute them at once, in process."""
    source = Provenance("operator:bench", Channel.CLI)
    done = [0] * threads
    deadline = time.perf_counter() + seconds

    def work(index: int) -> None:
        rng = random.Random(index)
        while time.perf_counter() < deadline:
            ledger.execute(
                cmd.Decrement(
                    agent_id=ledger.agent_id(nir(rng.randrange(AGENTS))),
                    siret=SIRET,
                    hours=1,
                    effective_date=date(2025, 4, 1),
                    provenance=source,
                )
            )
            done[index] += 1

    started = time.perf_counter()
    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return sum(done) / (time.perf_counter() - started)


def main(seconds: float, concurrency: int) -> None:
    with scratch_database() as url:
        settings = Settings(database_url=url, id_key="b" * 40)
        ledger = Ledger(settings)
        agents = populate(ledger)
        stack = Stack(
            environment(Path(tempfile.mkdtemp()), url, id_key="b" * 40),
            Path("/tmp/bench-api.log"),
        )
        token = stack.issue_key(name="bench")
        stack.start_worker()
        stack.start_api()
        base = stack.base
        try:
            for _ in range(100):
                try:
                    if httpx.get(f"{base}/readyz").json()["lag_events"]["balances"] == 0:
                        break
                except (httpx.HTTPError, KeyError, ValueError):
                    pass
                time.sleep(0.3)
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("ANALYZE")  # autovacuum may be off: plans from real statistics
            rng = random.Random(1)
            results = {
                "no-op /healthz": asyncio.run(
                    phase(base, token, seconds, concurrency, lambda c: c.get("/healthz"))
                ),
                "balance read": asyncio.run(
                    phase(
                        base,
                        token,
                        seconds,
                        concurrency,
                        lambda c: c.get(f"/v1/agents/{rng.choice(agents)}/balance"),
                    )
                ),
                "history page (50)": asyncio.run(
                    phase(
                        base,
                        token,
                        seconds,
                        concurrency,
                        lambda c: c.get(f"/v1/agents/{rng.choice(agents)}/movements?limit=50"),
                    )
                ),
                f"decrement write ({WRITERS} clients)": asyncio.run(
                    phase(
                        base,
                        token,
                        seconds,
                        WRITERS,
                        lambda c: c.post(
                            "/v1/decrements",
                            json={
                                "nir": nir(rng.randrange(AGENTS)),
                                "birth_name": "NOM",
                                "siret": SIRET,
                                "hours": 1,
                                "training": {
                                    "title": "T",
                                    "start": "2025-03-01",
                                    "end": "2025-03-01",
                                },
                            },
                        ),
                    )
                ),
            }
        finally:
            stack.stop()
        # The store's raw single-event append: one save() per event, in this process.
        source = Provenance("operator:bench", Channel.CLI)
        count, started = 500, time.perf_counter()
        for seq in range(count):
            ledger.execute(
                cmd.Decrement(
                    agent_id=ledger.agent_id(nir(seq)),
                    siret=SIRET,
                    hours=1,
                    effective_date=date(2025, 4, 1),
                    provenance=source,
                )
            )
        raw_append = count / (time.perf_counter() - started)
        grouped = concurrent_appends(ledger, WRITERS, min(seconds, 10.0))
        ledger.close()
    noop = results["no-op /healthz"]["rps"]
    print(
        f"{concurrency} concurrent clients over loopback, {seconds:.0f} s per phase, "
        f"uvicorn (1 worker) + projection worker on PostgreSQL, {AGENTS} agents"
    )
    for name, r in results.items():
        print(
            f"  {name:<30} {r['rps']:>8,.0f} req/s  p50 {r['p50']:6.1f} ms  "
            f"p99 {r['p99']:6.1f} ms  errors {r['errors']} {r['statuses'] or ''}  ratio to no-op {r['rps'] / noop:.2f}"
        )
    writes = results[f"decrement write ({WRITERS} clients)"]["rps"]
    print(
        f"  raw single-event append (one save() per event, in process): {raw_append:,.0f}/s; "
        f"decrement writes over HTTP ÷ raw append: {writes / raw_append:.2f}"
    )
    print(
        f"  decrements by {WRITERS} threads in process (Ledger.execute): {grouped:,.0f}/s; "
        f"÷ raw append: {grouped / raw_append:.2f}"
    )


if __name__ == "__main__":
    main(
        float(sys.argv[1]) if len(sys.argv) > 1 else 10.0,
        int(sys.argv[2]) if len(sys.argv) > 2 else 32,
    )
