"""The ledger application on both stores (SQLite and PostgreSQL): the same cases run on each."""

from __future__ import annotations

import threading
import tracemalloc
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from uuid import UUID

import pytest

from ledger import commands as cmd
from ledger.application import Ledger
from ledger.domain import errors
from ledger.domain.agent import Identity
from ledger.domain.provenance import Channel, Provenance
from ledger.store.settings import Settings
from tests.commands import declare_dif_reserve, decrement, record_line, register_agent
from tests.factories import make_nir, make_siret

OP = Provenance("operator:test", Channel.CLI)
SIRET = make_siret(1)


def register(ledger: Ledger, seq: int = 1) -> UUID:
    return register_agent(ledger, make_nir(seq), "Dupont", "Jean", date(1980, 5, 1), OP).agent_id


def test_movements_are_stored_and_replayed(ledger: Ledger) -> None:
    agent_id = register(ledger)
    record_line(ledger, agent_id, 2017, SIRET, 1607, OP)
    record_line(ledger, agent_id, 2018, SIRET, Decimal("1607"), OP)
    declare_dif_reserve(ledger, agent_id, SIRET, 80, OP)
    receipt = decrement(ledger, agent_id, SIRET, 100, date(2019, 3, 1), OP, training={"title": "X"})
    assert (receipt.hours, receipt.reserve_hours, receipt.balance_after) == (-20, -80, 28)
    agent = ledger.get_agent(agent_id)
    assert (agent.balance, agent.reserve, agent.version) == (28, 0, 5)
    assert ledger.identity(agent_id).birth_date == date(1980, 5, 1)
    assert ledger.find_agent(make_nir(1), "DUPONT") == agent_id


def test_a_refused_command_records_nothing(ledger: Ledger) -> None:
    agent_id = register(ledger)
    record_line(ledger, agent_id, 2021, SIRET, 1607, OP)
    head = ledger.recorder.max_notification_id()
    with pytest.raises(errors.InsufficientBalance):
        decrement(ledger, agent_id, SIRET, 26, date(2022, 1, 1), OP)
    with pytest.raises(errors.InvalidHours):
        decrement(ledger, agent_id, SIRET, -1, date(2022, 1, 1), OP)
    with pytest.raises(errors.InvalidSiret):
        decrement(ledger, agent_id, "12345678901234", 1, date(2022, 1, 1), OP)
    assert ledger.recorder.max_notification_id() == head


def test_unknown_agents_and_mismatched_identities_are_not_found(ledger: Ledger) -> None:
    register(ledger)
    with pytest.raises(errors.AgentNotFound):
        ledger.find_agent(make_nir(1), "Durand")
    with pytest.raises(errors.AgentNotFound):
        ledger.find_agent(make_nir(2), "Dupont")
    with pytest.raises(errors.AgentNotFound):
        decrement(ledger, ledger.agent_id(make_nir(2)), SIRET, 1, date(2022, 1, 1), OP)
    with pytest.raises(errors.AgentAlreadyRegistered):
        register(ledger)


def test_idempotency_key_returns_the_first_outcome_without_a_new_event(ledger: Ledger) -> None:
    agent_id = register(ledger)
    record_line(ledger, agent_id, 2021, SIRET, 1607, OP)
    keyed = Provenance("employer:1", Channel.API, idempotency_key="abc")
    first = decrement(ledger, agent_id, SIRET, 5, date(2022, 1, 1), keyed)
    head = ledger.recorder.max_notification_id()
    again = decrement(ledger, agent_id, SIRET, 5, date(2022, 1, 1), keyed)
    assert again.replayed and again.decrement_id == first.decrement_id
    assert again.balance_after == first.balance_after == 20
    assert ledger.recorder.max_notification_id() == head
    with pytest.raises(errors.IdempotencyConflict):
        decrement(ledger, agent_id, SIRET, 6, date(2022, 1, 1), keyed)


def test_concurrent_writers_on_one_agent_are_retried_not_lost(settings: Settings) -> None:
    first, second = Ledger(settings), Ledger(settings)
    try:
        agent_id = register(first)
        record_line(first, agent_id, 2021, SIRET, 1607, OP)
        failures: list[BaseException] = []

        def take(app: Ledger) -> None:
            try:
                for _ in range(5):
                    decrement(app, agent_id, SIRET, 1, date(2022, 1, 1), OP)
            except BaseException as exc:  # pragma: no cover - reported below
                failures.append(exc)

        threads = [threading.Thread(target=take, args=(app,)) for app in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        assert first.get_agent(agent_id).balance == 15
    finally:
        first.close()
        second.close()


def campaign_lines(
    ledger: Ledger, first: int, agents: int, year: int = 2021
) -> Iterator[cmd.Command]:
    """Registration and one full-year line per agent, generated lazily like a streamed file."""
    for seq in range(first, first + agents):
        register_command = cmd.RegisterAgent(
            agent_id=ledger.agent_id(make_nir(seq + 1)),
            identity=Identity(make_nir(seq + 1), "Nom", "Prénom", date(1980, 1, 1)),
            effective_date=date(year + 1, 2, 1),
            if_absent=True,
            provenance=Provenance("operator:test", Channel.CAMPAIGN, f"c:{seq}"),
        )
        line = cmd.RecordAcquisitionLine(
            agent_id=register_command.agent_id,
            year=year,
            siret=SIRET,
            hours_worked=Decimal(1607),
            provenance=Provenance("operator:test", Channel.CAMPAIGN),
        )
        yield register_command
        yield line


def campaign(ledger: Ledger, agents: int) -> list[cmd.Command]:
    return list(campaign_lines(ledger, 0, agents))


def test_bulk_path_saves_500_events_per_save_and_applies_once(ledger: Ledger) -> None:
    # 500 commands per chunk: 250 agents x 2 events in each save() (under the PostgreSQL limit).
    commands = campaign(ledger, 1000)
    outcomes = list(ledger.execute_many(commands, chunk_size=500))
    assert len(outcomes) == 2000 and all(o.error is None for o in outcomes)
    assert ledger.recorder.max_notification_id() == 2000
    again = list(ledger.execute_many(commands, chunk_size=500))
    assert all(o.receipt is not None and o.receipt.replayed for o in again)
    assert ledger.recorder.max_notification_id() == 2000
    assert ledger.get_agent(ledger.agent_id(make_nir(999))).balance == 25


def test_bulk_path_reports_refusals_and_applies_the_rest(ledger: Ledger) -> None:
    agent_id = register(ledger)
    good = cmd.RecordAcquisitionLine(
        agent_id=agent_id, year=2021, siret=SIRET, hours_worked=Decimal(1607), provenance=OP
    )
    conflicting = cmd.RecordAcquisitionLine(
        agent_id=agent_id, year=2021, siret=SIRET, hours_worked=Decimal(800), provenance=OP
    )
    unknown = cmd.RecordAcquisitionLine(
        agent_id=ledger.agent_id(make_nir(77)),
        year=2021,
        siret=SIRET,
        hours_worked=Decimal(1607),
        provenance=OP,
    )
    outcomes = list(ledger.execute_many([good, conflicting, unknown]))
    assert [type(o.error).__name__ if o.error else "ok" for o in outcomes] == [
        "ok",
        "AcquisitionLineConflict",
        "AgentNotFound",
    ]
    assert ledger.get_agent(agent_id).balance == 25


def test_bulk_path_memory_stays_flat(ledger: Ledger) -> None:
    def peak(start: int, count: int) -> int:
        tracemalloc.start()
        for _ in ledger.execute_many(campaign_lines(ledger, start, count), chunk_size=400):
            pass
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    small = peak(0, 400)
    large = peak(400, 4000)
    # Ten times the input, streamed: the peak stays that of one chunk.
    assert large < small * 2


def test_bulk_run_of_ten_thousand_agents(ledger: Ledger) -> None:
    outcomes = ledger.execute_many(campaign_lines(ledger, 0, 10_000))
    errors_seen = [o.error for o in outcomes if o.error is not None]
    assert errors_seen == []
    assert ledger.recorder.max_notification_id() == 20_000
    sample = ledger.load_agents([ledger.agent_id(make_nir(seq)) for seq in (1, 5_000, 10_000)])
    assert [agent.balance for agent in sample.values()] == [25, 25, 25]
