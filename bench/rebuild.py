"""Rebuild of all views on PostgreSQL from a synthetic log, next to a raw read of the same rows.

    .venv/bin/python -m bench.rebuild [EVENTS]      (default 1,000,000)

The log is written through the bulk path (agents registered, then one acquisition line a year,
2017-2025: ten events per agent). The baseline reads the same log rows with plain SQL, in pages
of 1000, in the same run. Prints figures and the peak memory; asserts nothing.
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import psycopg

from bench.common import nir, raw_read, scratch_database
from ledger import commands as cmd
from ledger.application import Ledger
from ledger.domain.agent import Identity
from ledger.domain.provenance import Channel, Provenance
from ledger.store.settings import Settings
from projections.runner import Projector

PAGE_SIZE = 2000
BULK_PAGE_SIZE = 100_000
SIRETS = ["21750001600019", "21750001600027", "21750001600035"]


def history(ledger: Ledger, agents: int) -> Iterator[cmd.Command]:
    source = Provenance("operator:bench", Channel.CAMPAIGN)
    for seq in range(agents):
        number = nir(seq)
        agent_id = ledger.agent_id(number)
        yield cmd.RegisterAgent(
            agent_id=agent_id,
            identity=Identity(number, "NOM", "Prenom", date(1980, 1, 1)),
            effective_date=date(2018, 2, 1),
            provenance=source,
        )
    for year in range(2017, 2026):
        for seq in range(agents):
            yield cmd.RecordAcquisitionLine(
                agent_id=ledger.agent_id(nir(seq)),
                year=year,
                siret=SIRETS[seq % 3],
                hours_worked=Decimal(800 + seq % 900),
                provenance=source,
            )


def main(events: int = 1_000_000) -> None:
    agents = events // 10
    with scratch_database() as url:
        ledger = Ledger(Settings(database_url=url, id_key="b" * 40))
        started = time.perf_counter()
        for _ in ledger.execute_many(history(ledger, agents)):
            pass
        head = ledger.recorder.max_notification_id() or 0
        print(
            f"log written through the bulk path: {head:,} events in "
            f"{time.perf_counter() - started:.0f} s"
        )
        table = ledger.recorder.events_table_name
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("ANALYZE")  # autovacuum may be off: plans from real statistics

        rows, raw_seconds = raw_read(url, table)

        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            projector = Projector(ledger, page_size=PAGE_SIZE, bulk_page_size=BULK_PAGE_SIZE)
        except TypeError:  # the code before set-based pages
            projector = Projector(ledger, page_size=PAGE_SIZE)
        started = time.perf_counter()
        projector.rebuild()
        rebuild_seconds = time.perf_counter() - started
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        counts = {}
        with projector.store.transaction(write=False) as cur:
            for view in ("balances", "movements", "employer_index"):
                row = cur.execute(f"SELECT COUNT(*) FROM {view}").fetchone()
                counts[view] = row[0] if row else 0
        ledger.close()
    raw_rate, rebuild_rate = rows / raw_seconds, head / rebuild_seconds
    print(f"rows in views: {counts}")
    print(f"raw read of the log (plain SQL, pages of 1000): {raw_rate:,.0f} rows/s")
    print(
        f"rebuild of all views:                           {rebuild_rate:,.0f} events/s "
        f"({rebuild_seconds:.0f} s)"
    )
    print(f"ratio rebuild ÷ raw read:                        {rebuild_rate / raw_rate:.2f}")
    print(
        f"peak RSS: {rss_before / 1024:.0f} MiB before the rebuild, "
        f"{rss_after / 1024:.0f} MiB after"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
