"""Group commit: concurrent callers share transactions, and each gets its own outcome."""

from __future__ import annotations

import threading
from datetime import date

import pytest

from ledger.application import Ledger
from ledger.domain import errors
from ledger.domain.provenance import Channel, Provenance
from projections.group_commit import GroupCommit
from tests.commands import decrement, record_line, register_agent
from tests.factories import make_nir, make_siret

OP = Provenance("operator:test", Channel.CLI)
SIRET = make_siret(1)


def test_rows_of_concurrent_callers_are_each_written_once() -> None:
    written: list[list[int]] = []
    lock = threading.Lock()

    def write(rows: list[int]) -> None:
        with lock:
            written.append(list(rows))

    group = GroupCommit(write, batch_max=7)
    threads = [threading.Thread(target=lambda i=i: group.write([i, -i])) for i in range(1, 41)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rows = [row for batch in written for row in batch]
    assert sorted(rows) == sorted([*range(1, 41), *range(-40, 0)])
    assert all(len(batch) <= 8 for batch in written)


def test_a_failed_batch_raises_in_its_callers_only() -> None:
    def write(rows: list[str]) -> None:
        if "bad" in rows:
            raise RuntimeError("store unreachable")

    group = GroupCommit(write)
    with pytest.raises(RuntimeError):
        group.write(["bad"])
    group.write(["good"])  # the next batch is written


def test_concurrent_decrements_never_overdraw_and_each_gets_its_answer(ledger: Ledger) -> None:
    agent_id = register_agent(ledger, make_nir(1), "Nom", "Anne", date(1980, 1, 1), OP).agent_id
    record_line(ledger, agent_id, 2021, SIRET, 1607, OP)  # 25 h
    accepted: list[int] = []
    refused: list[str] = []

    def take() -> None:
        for _ in range(3):
            try:
                receipt = decrement(ledger, agent_id, SIRET, 2, date(2022, 1, 1), OP)
                accepted.append(receipt.position or 0)
            except errors.InsufficientBalance as error:
                refused.append(error.code)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(accepted) == 12 and len(refused) == 12  # 24 of 25 h taken, 2 h at a time
    assert len(set(accepted)) == 12 and all(p > 0 for p in accepted)
    assert ledger.get_agent(agent_id).balance == 1
