"""A yearly campaign on PostgreSQL: one line per existing agent, next to a raw COPY.

    .venv/bin/python -m bench.campaign [LINES ...]      (default: 100000 1000000)

For each size: a population of LINES agents with three years of history (registration and
acquisition lines for 2021-2023, and each agent's folded state) is written straight into the
tables with COPY (cloned from one agent built by the ledger itself, so they are real events),
then analysed; then the 2024 campaign file of one line per agent is imported by
``import_campaign`` in a child process, which reports its own peak memory. The baseline is a raw
COPY of the event rows the import wrote into an empty table with the same indexes, in the same
run. Prints figures; asserts nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import psycopg

from bench.common import nir, scratch_database
from ledger import commands as cmd
from ledger.application import Ledger
from ledger.domain.provenance import Channel, Provenance
from ledger.store.settings import Settings

SIRET = "21750001600019"
KEY = "b" * 40
STATE_TABLE = "agent_state"


def build_population(url: str, agents: int, first: int = 0) -> tuple[str, float]:
    """Write ``agents`` agents (NIRs from ``first``) with three years of history and their
    folded states, then analyse; returns the events table and the seconds the COPY of the
    population's event rows took."""
    ledger = Ledger(Settings(database_url=url, id_key=KEY))
    source = Provenance("operator:bench", Channel.CAMPAIGN)
    template_nir = nir(85_000_000 - 1)
    receipt = ledger.execute(
        cmd.RegisterAgent.for_nir(
            template_nir, "NOM", "Prenom", date(1980, 1, 1), ledger.id_key, source
        )
    )
    for year in (2021, 2022, 2023):
        ledger.execute(
            cmd.RecordAcquisitionLine(
                agent_id=receipt.agent_id,
                year=year,
                siret=SIRET,
                hours_worked=Decimal(1607),
                provenance=source,
            )
        )
    table = ledger.recorder.events_table_name
    with psycopg.connect(url, autocommit=True) as conn:
        template = conn.execute(
            f"SELECT originator_version, topic, state FROM {table} WHERE originator_id = %s "
            "ORDER BY originator_version",
            (receipt.agent_id,),
        ).fetchall()
        has_states = conn.execute("SELECT to_regclass(%s)", (STATE_TABLE,)).fetchone()[0]
        state = None
        if has_states:
            found = conn.execute(
                f"SELECT version, state FROM {STATE_TABLE} WHERE agent_id = %s",
                (receipt.agent_id,),
            ).fetchone()
            state = (found[0], bytes(found[1]).replace(receipt.agent_id.hex.encode(), b""))
        conn.execute(f"DELETE FROM {table} WHERE originator_id = %s", (receipt.agent_id,))
        conn.execute("DELETE FROM event_chain")  # the population is written unchained
        if has_states:
            conn.execute(f"DELETE FROM {STATE_TABLE}")
    old_id = receipt.agent_id
    ids = [ledger.agent_id(nir(seq)) for seq in range(first, first + agents)]
    started = time.perf_counter()
    with (
        psycopg.connect(url) as conn,
        conn.cursor() as cur,
        cur.copy(
            f"COPY {table} (originator_id, originator_version, topic, state) FROM STDIN"
        ) as copy,
    ):
        for seq, agent_id in enumerate(ids, start=first):
            number = nir(seq)
            for version, topic, data in template:
                data = bytes(data)
                if version == 1:
                    data = data.replace(template_nir.encode(), number.encode())
                copy.write_row(
                    (
                        agent_id,
                        version,
                        topic,
                        data.replace(old_id.hex.encode(), agent_id.hex.encode()),
                    )
                )
    copy_seconds = time.perf_counter() - started
    with psycopg.connect(url, autocommit=True) as conn:
        if state is not None:
            with conn.cursor() as cur, cur.copy(f"COPY {STATE_TABLE} FROM STDIN") as copy:
                for agent_id in ids:
                    copy.write_row((agent_id, state[0], state[1]))
        for name in (table, "event_chain", STATE_TABLE if state is not None else None):
            if name:
                conn.execute(f"ANALYZE {name}")
    ledger.close()
    return table, copy_seconds


def copy_baseline(url: str, table: str, after: int) -> tuple[int, float]:
    """A raw COPY of the event rows after position ``after`` into an empty table with the
    events table's indexes: (rows, seconds)."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT originator_id, originator_version, topic, state, notification_id "
            f"FROM {table} WHERE notification_id > %s",
            (after,),
        ).fetchall()
        conn.execute(f"CREATE TABLE copy_baseline (LIKE {table} INCLUDING INDEXES)")
        started = time.perf_counter()
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY copy_baseline (originator_id, originator_version, topic, state, "
                "notification_id) FROM STDIN"
            ) as copy,
        ):
            for row in rows:
                copy.write_row(row)
        seconds = time.perf_counter() - started
        conn.execute("DROP TABLE copy_baseline")
    return len(rows), seconds


CHILD = """
import resource, sys, time
from pathlib import Path
from ledger.application import Ledger
from ledger.files import campaign
workers = int(sys.argv[2])
started = time.perf_counter()
if workers > 1:
    from ledger.store.settings import Settings
    report = campaign.import_campaign_in_parallel(
        Settings(), Path(sys.argv[1]), "operator:bench", workers)
else:
    report = campaign.import_campaign(Ledger(), Path(sys.argv[1]), "operator:bench")
seconds = time.perf_counter() - started
usage = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
peak = max(u.ru_maxrss for u in usage) / 1024
cpu = sum(u.ru_utime + u.ru_stime for u in usage)
print(report.lines_read, report.applied, report.rejected_total, seconds, peak, cpu)
"""


def write_campaign(path: Path, lines: int, year: int = 2024, first: int = 0) -> None:
    with path.open("w") as out:
        out.write("nir;birth_name;first_name;birth_date;siret;year;hours_worked\n")
        for seq in range(first, first + lines):
            out.write(f"{nir(seq)};NOM;Prenom;1980-01-01;{SIRET};{year};1607\n")


def import_in_child(
    url: str, path: Path, workers: int = 1, extra_env: dict[str, str] | None = None
) -> list[float]:
    env = {**os.environ, "LEDGER_DATABASE_URL": url, "LEDGER_ID_KEY": KEY, **(extra_env or {})}
    output = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(workers)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return [float(v) for v in output]


def run(lines: int, workers: int = 1) -> dict[str, float]:
    with scratch_database() as url, tempfile.TemporaryDirectory() as directory:
        table, population_copy = build_population(url, lines)
        with psycopg.connect(url) as conn:
            head = conn.execute(f"SELECT max(notification_id) FROM {table}").fetchone()[0]
        path = Path(directory) / "campagne-2024.csv"
        write_campaign(path, lines)
        read, applied, rejected, seconds, peak, cpu = import_in_child(url, path, workers)
        copied, copy_seconds = copy_baseline(url, table, head)
    copy_rate = copied / copy_seconds
    rate = applied / seconds
    print(
        f"lines: {lines:,}  workers: {workers}  applied: {applied:,.0f}  "
        f"rejected: {rejected:.0f}  (read {read:,.0f})"
    )
    print(
        f"  campaign import: {rate:,.0f} lines/s ({seconds:.1f} s, CPU of the import "
        f"{cpu / applied * 1e6:.0f} µs/line)"
    )
    print(
        f"  raw COPY of the {copied:,} event rows it wrote, into an empty table with the same "
        f"indexes: {copy_rate:,.0f} rows/s"
    )
    print(f"  ratio lines/s ÷ COPY rows/s: {rate / copy_rate:.3f}")
    print(f"  peak memory of the import process: {peak:.0f} MiB")
    print(f"  (population: {lines * 4 / population_copy:,.0f} rows/s by COPY)")
    return {"rate": rate, "copy": copy_rate, "peak": peak, "seconds": seconds}


if __name__ == "__main__":
    arguments = sys.argv[1:]
    workers = 1
    if "--workers" in arguments:
        at = arguments.index("--workers")
        workers = int(arguments[at + 1])
        del arguments[at : at + 2]
    for size in [int(a) for a in arguments] or [100_000, 1_000_000]:
        run(size, workers)
