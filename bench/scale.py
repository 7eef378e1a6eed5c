"""The scale curve on PostgreSQL: campaign and rebuild as the store grows, and a history load.

    .venv/bin/python -m bench.scale [FINAL_EVENTS]      (default 10,000,000)

One store grows through the bulk path (each agent registered, then one acquisition line a year
2017-2025: ten events per agent). When it holds 100k, 1M and 3M events: a campaign of 20,000
lines (existing agents, a year after the history's, another at each size) is imported and its cost per line printed, next to a raw COPY
of the rows it wrote (into an empty table with the same indexes); then all views are rebuilt,
next to a raw read of the log. Then the load goes on to FINAL_EVENTS and prints its rate.
Every step analyses the tables first (autovacuum may be off). Prints figures; asserts nothing.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import psycopg

from bench.campaign import copy_baseline
from bench.common import nir, raw_read, scratch_database
from ledger import commands as cmd
from ledger.application import Ledger
from ledger.domain.agent import Identity
from ledger.domain.provenance import Channel, Provenance
from ledger.files.campaign import import_campaign
from ledger.store.settings import Settings
from projections.runner import Projector

SIRETS = ["21750001600019", "21750001600027", "21750001600035"]
CAMPAIGN_LINES = 20_000
STAGES = (100_000, 1_000_000, 3_000_000)


def history(ledger: Ledger, first: int, agents: int) -> Iterator[cmd.Command]:
    source = Provenance("operator:bench", Channel.CAMPAIGN)
    for seq in range(first, first + agents):
        number = nir(seq)
        yield cmd.RegisterAgent(
            agent_id=ledger.agent_id(number),
            identity=Identity(number, "NOM", "Prenom", date(1980, 1, 1)),
            effective_date=date(2018, 2, 1),
            provenance=source,
        )
    for year in range(2017, 2026):
        for seq in range(first, first + agents):
            yield cmd.RecordAcquisitionLine(
                agent_id=ledger.agent_id(nir(seq)),
                year=year,
                siret=SIRETS[seq % 3],
                hours_worked=Decimal(800 + seq % 900),
                provenance=source,
            )


def grow(ledger: Ledger, url: str, first: int, agents: int) -> float:
    """Load ``agents`` more agents' histories; returns events/s."""
    started = time.perf_counter()
    for _ in ledger.execute_many(history(ledger, first, agents)):
        pass
    seconds = time.perf_counter() - started
    analyse(url)
    return agents * 10 / seconds


def analyse(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")


def campaign_at(
    ledger: Ledger, url: str, agents: int, directory: Path, year: int
) -> tuple[float, float]:
    """A campaign of CAMPAIGN_LINES lines on existing agents spread over the store: (µs per
    line, ratio lines/s ÷ COPY rows/s of its rows)."""
    path = directory / f"campagne-{agents}.csv"
    lines = min(CAMPAIGN_LINES, agents)
    step = max(1, agents // lines)
    with path.open("w") as out:
        out.write("nir;birth_name;first_name;birth_date;siret;year;hours_worked\n")
        for seq in range(0, step * lines, step):
            out.write(f"{nir(seq)};NOM;Prenom;1980-01-01;{SIRETS[0]};{year};1607\n")
    head = ledger.recorder.max_notification_id() or 0
    started = time.perf_counter()
    report = import_campaign(ledger, path, "operator:bench")
    seconds = time.perf_counter() - started
    rows, copy_seconds = copy_baseline(url, ledger.recorder.events_table_name, head)  # type: ignore[attr-defined]
    assert report.applied == lines, report
    return seconds / report.applied * 1e6, (report.applied / seconds) / (rows / copy_seconds)


def main(final: int, stages: tuple[int, ...] = STAGES) -> None:
    with scratch_database() as url, tempfile.TemporaryDirectory() as directory:
        ledger = Ledger(Settings(database_url=url, id_key="b" * 40))
        table = ledger.recorder.events_table_name  # type: ignore[attr-defined]
        loaded, load_seconds = 0, 0.0
        print(
            "events in store | campaign µs/line (ratio to COPY) | rebuild events/s (ratio to raw read)"
        )
        for index, stage in enumerate(dict.fromkeys((*stages, final))):
            agents = (stage - loaded) // 10
            started = time.perf_counter()
            grow(ledger, url, loaded // 10, agents)
            load_seconds += time.perf_counter() - started
            loaded = stage
            if stage == final and stage not in stages:
                break
            events = ledger.recorder.max_notification_id() or 0
            per_line, ratio = campaign_at(ledger, url, stage // 10, Path(directory), 2026 + index)
            analyse(url)
            rows, seconds = raw_read(url, table)
            read_rate = rows / seconds
            projector = Projector(ledger, page_size=2000, bulk_page_size=100_000)
            started = time.perf_counter()
            projector.rebuild()
            rebuild_rate = (ledger.recorder.max_notification_id() or 0) / (
                time.perf_counter() - started
            )
            projector.store.close()
            print(
                f"{events:>15,} | {per_line:8.0f} µs ({ratio:.3f})            | "
                f"{rebuild_rate:10,.0f} ({rebuild_rate / read_rate:.2f} of {read_rate:,.0f} rows/s)",
                flush=True,
            )
        print(
            f"history load through the bulk path: {loaded:,} events in {load_seconds:.0f} s, "
            f"{loaded / load_seconds:,.0f} events/s (campaign and rebuild times excluded)"
        )
        ledger.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000)
