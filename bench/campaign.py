"""A yearly campaign on PostgreSQL: one line per existing agent, next to a raw COPY.

    .venv/bin/python -m bench.campaign [LINES ...]      (default: 100000 1000000)

For each size: a population of LINES agents with three years of history (registration and
acquisition lines for 2021-2023) is written straight into the event table with COPY (events
cloned from one agent built by the ledger itself, so they are real events); then the 2024
campaign file of one line per agent is imported by `import_campaign` in a child process, which
reports its own peak memory. The baseline is a raw COPY of as many event rows in the same run.
Prints figures; asserts nothing.
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


def build_population(url: str, agents: int) -> tuple[str, float]:
    """Write ``agents`` agents with three years of history; returns the events table and the
    seconds the raw COPY of the population's rows took."""
    ledger = Ledger(Settings(database_url=url, id_key=KEY))
    source = Provenance("operator:bench", Channel.CAMPAIGN)
    template_nir = nir(10_000_000 % 800_000)
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
    with psycopg.connect(url) as conn:
        template = conn.execute(
            f"SELECT originator_version, topic, state FROM {table} WHERE originator_id = %s "
            "ORDER BY originator_version",
            (receipt.agent_id,),
        ).fetchall()
        conn.execute(f"DELETE FROM {table}")
        conn.execute("DELETE FROM event_chain")  # the population is written unchained
    old_id = receipt.agent_id
    started = time.perf_counter()
    with (
        psycopg.connect(url) as conn,
        conn.cursor() as cur,
        cur.copy(
            f"COPY {table} (originator_id, originator_version, topic, state) FROM STDIN"
        ) as copy,
    ):
        for seq in range(agents):
            number = nir(seq)
            agent_id = ledger.agent_id(number)
            for version, topic, state in template:
                data = bytes(state)
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
    ledger.close()
    return table, copy_seconds


CHILD = """
import resource, sys, time
from pathlib import Path
from ledger.application import Ledger
from ledger.files.campaign import import_campaign
started = time.perf_counter()
report = import_campaign(Ledger(), Path(sys.argv[1]), "operator:bench")
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(report.lines_read, report.applied, report.rejected_total, seconds, peak)
"""


def run(lines: int) -> None:
    with scratch_database() as url, tempfile.TemporaryDirectory() as directory:
        _, population_copy = build_population(url, lines)
        path = Path(directory) / "campagne-2024.csv"
        with path.open("w") as out:
            out.write("nir;birth_name;first_name;birth_date;siret;year;hours_worked\n")
            for seq in range(lines):
                out.write(f"{nir(seq)};NOM;Prenom;1980-01-01;{SIRET};2024;1607\n")
        env = {**os.environ, "LEDGER_DATABASE_URL": url, "LEDGER_ID_KEY": KEY}
        output = subprocess.run(
            [sys.executable, "-c", CHILD, str(path)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        read, applied, rejected = (int(v) for v in output[:3])
        seconds, peak = float(output[3]), float(output[4])
    rows_per_agent = 4
    copy_rate = lines * rows_per_agent / population_copy
    print(f"lines: {lines:,}  applied: {applied:,}  rejected: {rejected}  (read {read:,})")
    print(f"  campaign import: {applied / seconds:,.0f} agents/s ({seconds:.0f} s)")
    print(f"  raw COPY of event rows in the same run: {copy_rate:,.0f} rows/s")
    print(f"  ratio agents/s ÷ COPY rows/s: {applied / seconds / copy_rate:.3f}")
    print(f"  peak memory of the import process: {peak:.0f} MiB")


if __name__ == "__main__":
    for size in [int(a) for a in sys.argv[1:]] or [100_000, 1_000_000]:
        run(size)
