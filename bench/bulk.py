"""Bulk path on PostgreSQL: agents/s of Ledger.execute_many next to a raw COPY of the same rows.

    .venv/bin/python -m bench.bulk [AGENTS]

Prints figures; asserts nothing about time (this machine is noisy: compare the ratio).
"""

from __future__ import annotations

import sys
import time

import psycopg

from bench.common import campaign, scratch_database
from ledger.application import Ledger
from ledger.store.settings import Settings


def main(agents: int = 20_000) -> None:
    with scratch_database() as url:
        ledger = Ledger(Settings(database_url=url, id_key="b" * 40))
        started = time.perf_counter()
        refused = sum(1 for o in ledger.execute_many(campaign(ledger, 0, agents)) if o.error)
        bulk_seconds = time.perf_counter() - started
        table = ledger.recorder.events_table_name
        ledger.close()
        with psycopg.connect(url, autocommit=True) as conn:
            rows = conn.execute(
                f"SELECT originator_id, originator_version, topic, state, notification_id FROM {table}"
            ).fetchall()
            conn.execute(f"CREATE TABLE copy_baseline (LIKE {table})")
            started = time.perf_counter()
            with (
                conn.cursor() as cur,
                cur.copy(
                    "COPY copy_baseline (originator_id, originator_version, topic, state, notification_id)"
                    " FROM STDIN"
                ) as copy,
            ):
                for row in rows:
                    copy.write_row(row)
            copy_seconds = time.perf_counter() - started
    events = len(rows)
    print(f"agents: {agents}  events: {events}  refused: {refused}")
    print(
        f"bulk path (execute_many, chunks of {ledger.settings.bulk_chunk_size}): "
        f"{agents / bulk_seconds:,.0f} agents/s "
        f"({events / bulk_seconds:,.0f} events/s)"
    )
    print(f"raw COPY of the same rows:               {events / copy_seconds:,.0f} rows/s")
    print(f"ratio bulk events/s ÷ COPY rows/s:       {copy_seconds / bulk_seconds:.3f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
