"""The console's pages timed over HTTP, for an agent with twenty years of history on the demo data.

    .venv/bin/python -m bench.console [REQUESTS] [--postgres]      (default: 200 per page)

Loads the demo population into a scratch store as ``make run`` does (``cpf-ledger demo load``:
300 agents, 12 establishments; the embedded SQLite store, or a scratch PostgreSQL database with
``--postgres``), adds one agent with twenty years of history (registered in 2006, its DIF
converted, two employers' lines every year, an undeclared-DIF reserve, a training every quarter,
some of them cancelled, a regularisation every year, inaptitude credits), serves it with
``cpf-ledger serve``, signs in through the console as the demo administrator and the demo auditor,
and requests each page one after the other over loopback, after a warm-up: p50, p95 and the
slowest. The JSON API reading the same history, and ``/healthz``, run in the same way as
baselines. Prints the figures; asserts nothing.
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import nullcontext
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from api.bootstrap import bootstrap
from api.processes import Stack, cli, environment
from bench.common import nir, scratch_database
from ledger import commands as cmd
from ledger.domain.agent import Identity
from ledger.domain.provenance import Channel, Provenance
from ledger.files.demo import demo_siret
from ledger.files.demo_logins import PASSWORD, current_code
from ledger.store.settings import Settings

WARM_UP = 10
FIRST, SECOND = demo_siret(1), demo_siret(2)


def twenty_years(agent_id: Any) -> Iterator[cmd.Command]:
    """An agent's twenty years: about 200 movements, year by year."""
    source = Provenance("operator:bench", Channel.CAMPAIGN, "bench:twenty-years")
    yield cmd.RegisterAgent(
        agent_id=agent_id,
        identity=Identity(nir(99_999), "Vingtans", "Camille", date(1970, 5, 4)),
        effective_date=date(2006, 9, 1),
        provenance=source,
    )
    yield cmd.ConvertDif(agent_id=agent_id, hours=96, provenance=source)
    yield cmd.DeclareDifReserve(agent_id=agent_id, siret=FIRST, hours=40, provenance=source)
    for year in range(2017, 2027):
        if year < 2026:
            for siret in (FIRST, SECOND):
                yield cmd.RecordAcquisitionLine(
                    agent_id=agent_id,
                    year=year,
                    siret=siret,
                    hours_worked=Decimal(700),
                    provenance=source,
                )
            yield cmd.RegulariseYear(
                agent_id=agent_id,
                year=year,
                siret=FIRST,
                hours=1,
                attestation={
                    "signatory": "DRH",
                    "signature_date": f"{year + 1}-02-01",
                    "stamp_present": True,
                },
                provenance=source,
            )
        for month in range(1, 12 if year < 2026 else 10):  # a training a month
            start = date(year, month, 10)
            yield cmd.Decrement(
                agent_id=agent_id,
                decrement_id=f"bench-{year}-{month}",
                siret=FIRST,
                hours=2,
                effective_date=start,
                training={
                    "title": "Formation",
                    "start": start.isoformat(),
                    "end": start.isoformat(),
                },
                provenance=source,
            )
            if month % 4 == 0:
                yield cmd.CancelDecrement(
                    agent_id=agent_id,
                    decrement_id=f"bench-{year}-{month}",
                    reason="formation annulée",
                    provenance=source,
                )
        if year in (2019, 2022, 2025):
            yield cmd.CreditInaptitude(
                agent_id=agent_id, hours=20, effective_date=date(year, 6, 1), provenance=source
            )


def timed(client: httpx.Client, path: str, requests: int, **kwargs: Any) -> dict[str, float]:
    for _ in range(WARM_UP):
        client.get(path, **kwargs).raise_for_status()
    seconds = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path, **kwargs)
        seconds.append(time.perf_counter() - started)
        response.raise_for_status()
    seconds.sort()
    return {
        "p50": statistics.median(seconds) * 1000,
        "p95": seconds[int(0.95 * (len(seconds) - 1))] * 1000,
        "max": seconds[-1] * 1000,
        "bytes": len(response.content),
    }


def signed_in(base: str, email: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30)
    form = {"email": email, "password": PASSWORD, "second_factor": current_code()}
    response = client.post("/connexion", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text
    return client


def main() -> None:
    requests = int(next((a for a in sys.argv[1:] if a.isdigit()), "200"))
    postgres = "--postgres" in sys.argv
    with (
        tempfile.TemporaryDirectory() as directory,
        scratch_database() if postgres else nullcontext(None) as url,
    ):
        env = environment(
            Path(directory) / "var",
            url,
            session_cookie_secure="false",
            projector_in_process="true",
            argon2_memory_kib="1024",
            argon2_time_cost="1",
            argon2_parallelism="1",
        )
        started = time.perf_counter()
        cli(env, "demo", "load")
        os.environ.update({k: v for k, v in env.items() if k.startswith("LEDGER_")})
        svc = bootstrap(Settings())
        agent = svc.ledger.agent_id(nir(99_999))
        # Corrections a year's rules refuse (a full year, given the counter then) are left out.
        for _ in svc.ledger.execute_many(twenty_years(agent), chunk_size=1):
            pass
        svc.projector.catch_up()
        key = cli(env, "keys", "issue", "--role", "operator", "--name", "bench").splitlines()[-1]
        svc.close()
        print(
            f"store: {'PostgreSQL' if postgres else 'SQLite (embedded, as make run)'}; demo "
            f"population loaded and the 20-year agent added in {time.perf_counter() - started:.0f} s"
        )
        with Stack(env, Path(directory) / "server.log") as stack:
            stack.start_api()
            admin = signed_in(stack.base, "rh@etablissement-1.demo.invalid")
            auditor = signed_in(stack.base, "auditeur@cdc.demo.invalid")
            api = httpx.Client(
                base_url=stack.base, timeout=30, headers={"Authorization": f"Bearer {key}"}
            )
            page = admin.get(f"/agents/{agent.hex}").text
            drawn = len(re.findall(r'data-position="', page))
            listed = len(
                set(
                    re.findall(r'href="/agents/([0-9a-f]{32})"', admin.get("/tableau-de-bord").text)
                )
            )
            print(
                f"the agent's page draws {drawn} movements, 2006-09-01 to today; the dashboard "
                f"lists {listed} agents with their names\n"
            )
            rows = [
                ("no-op /healthz", api, "/healthz", {}),
                (
                    "API: the history (JSON, 500 a page)",
                    api,
                    f"/v1/agents/{agent.hex}/movements",
                    {"params": {"known_at": "2999-01-01T00:00:00Z", "limit": 500}},
                ),
                ("agent page (chart, table)", admin, f"/agents/{agent.hex}", {}),
                ("agent page as of 2020-12-31", admin, f"/agents/{agent.hex}?au=2020-12-31", {}),
                ("dashboard (establishment 1)", admin, "/tableau-de-bord", {}),
                ("regularisation requests", admin, "/regularisations", {}),
                (
                    "auditor: replay beside today",
                    auditor,
                    f"/audit/agents/{agent.hex}?effet=2020-12-31",
                    {},
                ),
                ("sign-in page", api, "/connexion", {}),
            ]
            print(
                f"{'page':40} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'KiB':>6}   ({requests} requests each)"
            )
            for name, client, path, kwargs in rows:
                figures = timed(client, path, requests, **kwargs)
                print(
                    f"{name:40} {figures['p50']:8.1f} {figures['p95']:8.1f} "
                    f"{figures['max']:8.1f} {figures['bytes'] / 1024:6.0f}"
                )


if __name__ == "__main__":
    main()
