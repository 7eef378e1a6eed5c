"""Helpers shared by the benchmarks: a scratch PostgreSQL database and synthetic agents."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal

import psycopg
from stdnum.fr import nir as stdnum_nir

from ledger import commands as cmd
from ledger.application import Ledger
from ledger.domain.agent import Identity
from ledger.domain.provenance import Channel, Provenance

ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SIRET = "21750001600019"


@contextmanager
def scratch_database() -> Iterator[str]:
    """A fresh PostgreSQL database for one benchmark run, dropped afterwards."""
    name = f"cpf_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def nir(seq: int) -> str:
    """A valid NIR, unique for ``seq`` below about 85 million."""
    dept = 10 + seq // (999 * 990)
    body = f"18005{dept:02d}{seq // 999 % 990 + 1:03d}{seq % 999 + 1:03d}"
    return body + stdnum_nir.calc_check_digits(body + "00")


def campaign(ledger: Ledger, first: int, count: int, year: int = 2021) -> Iterator[cmd.Command]:
    """Registration plus one full-year line per agent, as the campaign import produces them."""
    for seq in range(first, first + count):
        number = nir(seq)
        agent_id = ledger.agent_id(number)
        source = Provenance("operator:bench", Channel.CAMPAIGN, f"bench:{seq}")
        yield cmd.RegisterAgent(
            agent_id=agent_id,
            identity=Identity(number, "NOM", "Prenom", date(1980, 1, 1)),
            effective_date=date(year + 1, 2, 1),
            if_absent=True,
            provenance=source,
        )
        yield cmd.RecordAcquisitionLine(
            agent_id=agent_id,
            year=year,
            siret=SIRET,
            hours_worked=Decimal(1607),
            provenance=source,
        )


def raw_read(url: str, table: str) -> tuple[int, float]:
    """The baseline of a rebuild: every row of the log read with plain SQL in pages of 1000;
    (rows, seconds)."""
    with psycopg.connect(url) as conn:
        started = time.perf_counter()
        last, rows = 0, 0
        while True:
            page = conn.execute(
                f"SELECT notification_id, originator_id, originator_version, topic, state "
                f"FROM {table} WHERE notification_id > %s ORDER BY notification_id LIMIT 1000",
                (last,),
            ).fetchall()
            if not page:
                break
            rows += len(page)
            last = page[-1][0]
        return rows, time.perf_counter() - started
