"""The audit chain on PostgreSQL: its write overhead on the bulk path, and the verification rate.

    .venv/bin/python -m bench.audit [AGENTS_FOR_OVERHEAD] [EVENTS_TO_VERIFY]
    (defaults: 20000 and 1000000)

1. The bulk path (registration + one acquisition line per agent) with the chained recorder and
   with the library's plain recorder, in the same run: agents/s of each and their ratio.
2. A log of EVENTS_TO_VERIFY real events (cloned by COPY from agents built by the ledger), chained
   by the migration command, then verified from the start: events/s.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import ledger.application as application_module
from bench.campaign import build_population
from bench.common import campaign, scratch_database
from ledger.application import Ledger
from ledger.audit import chain_existing, verify_chain
from ledger.store.recorders import ChainedPostgresRecorder, event_store_env
from ledger.store.settings import Settings

KEY = "b" * 40


class UnchainedRecorder(ChainedPostgresRecorder):
    """The ledger's recorder without its chain rows: what the chain costs, by difference."""

    write_chain = False


def bulk_rate(agents: int, chained: bool) -> float:
    def env(settings: Settings) -> dict[str, Any]:
        values = event_store_env(settings)
        if not chained:
            values["APPLICATION_RECORDER_TOPIC"] = "bench.audit:UnchainedRecorder"
        return values

    application_module.event_store_env = env  # type: ignore[assignment]
    try:
        with scratch_database() as url:
            ledger = Ledger(Settings(database_url=url, id_key=KEY))
            started = time.perf_counter()
            for _ in ledger.execute_many(campaign(ledger, 0, agents)):
                pass
            seconds = time.perf_counter() - started
            ledger.close()
    finally:
        application_module.event_store_env = event_store_env
    return agents / seconds


def main(agents: int, events: int) -> None:
    plain = bulk_rate(agents, chained=False)
    chained = bulk_rate(agents, chained=True)
    print(f"bulk path, {agents:,} agents ({2 * agents:,} events):")
    print(f"  without the chain: {plain:,.0f} agents/s")
    print(f"  with the chain:    {chained:,.0f} agents/s")
    print(f"  ratio with ÷ without: {chained / plain:.2f}")
    with scratch_database() as url:
        build_population(url, events // 4)  # 4 events per agent, written by COPY, unchained
        ledger = Ledger(Settings(database_url=url, id_key=KEY))
        started = time.perf_counter()
        chained_count = chain_existing(ledger.recorder)
        migration = time.perf_counter() - started
        started = time.perf_counter()
        result = verify_chain(ledger.recorder)
        seconds = time.perf_counter() - started
        ledger.close()
    print(
        f"migration (chain an existing log of {chained_count:,} events): "
        f"{chained_count / migration:,.0f} events/s"
    )
    print(
        f"verification of {result.checked:,} events: {result.checked / seconds:,.0f} events/s "
        f"({seconds:.0f} s), intact: {result.ok}"
    )


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 20_000,
        int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000,
    )
