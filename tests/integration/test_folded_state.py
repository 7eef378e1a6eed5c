"""Agents load from their folded state (written in their events' transaction) exactly as a replay
of their events gives them, on both stores, whatever the state's age or format."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import orjson
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings

from ledger.application import Ledger
from ledger.domain.agent import Agent
from ledger.store.recorders import STATE_TABLE
from tests.integration.test_ledger_application import campaign
from tests.integration.test_projections import moves_strategy, populate

NOT_FOLDED = ("identity", "stored_identity")  # lives in the registration event only


def folded(agent: Agent) -> dict[str, Any]:
    return {k: v for k, v in vars(agent).items() if k not in NOT_FOLDED}


def assert_loads_equal_replay(ledger: Ledger, ids: list[UUID]) -> None:
    loaded, replayed = ledger.load_agents(ids), ledger.replay_agents(ids)
    assert loaded.keys() == replayed.keys() == set(ids)
    for agent_id in ids:
        assert folded(loaded[agent_id]) == folded(replayed[agent_id])


def execute_sql(ledger: Ledger, statement: str, params: tuple[Any, ...] = ()) -> None:
    datastore: Any = ledger.recorder.datastore
    if hasattr(datastore, "schema"):
        with datastore.get_connection() as conn:
            conn.execute(statement, params)
    else:
        with datastore.transaction(commit=True) as c:
            c.execute(statement.replace("%s", "?"), params)


@hsettings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(moves=moves_strategy)
def test_an_agent_loads_from_its_state_as_its_events_replay(ledger: Ledger, moves: list) -> None:  # type: ignore[type-arg]
    first = (ledger.recorder.max_notification_id() or 0) + 1
    ids = populate(ledger, 3, moves, first=first)
    assert_loads_equal_replay(ledger, ids)


def test_a_missing_old_or_foreign_state_is_replayed_past(ledger: Ledger) -> None:
    ids = populate(ledger, 3, [(0, "line", 1, 1), (1, "dif", 5, 0), (2, "reserve", 3, 2)] * 3)
    agents = ledger.load_agents(ids)
    key = (lambda i: i) if hasattr(ledger.recorder.datastore, "schema") else (lambda i: i.hex)
    # No state at all (a log recorded before states existed).
    execute_sql(ledger, f"DELETE FROM {STATE_TABLE} WHERE agent_id = %s", (key(ids[0]),))
    # A state older than the agent's last event.
    old = agents[ids[1]]
    first_state = ledger.replay_agents([ids[1]])[ids[1]]
    assert first_state.version == old.version
    execute_sql(
        ledger,
        f"UPDATE {STATE_TABLE} SET version = 1, state = %s WHERE agent_id = %s",
        (orjson.dumps(_state_at_registration(ledger, ids[1])), key(ids[1])),
    )
    # A state of another format (the layout changed since it was written).
    execute_sql(
        ledger,
        f"UPDATE {STATE_TABLE} SET state = %s WHERE agent_id = %s",
        (orjson.dumps({"format": -1}), key(ids[2])),
    )
    assert_loads_equal_replay(ledger, ids)


def _state_at_registration(ledger: Ledger, agent_id: UUID) -> dict[str, Any]:
    """The agent's state after its first event only."""
    from ledger.store.events import select_events_of

    first = list(select_events_of(ledger.recorder, [agent_id], only_first=True))
    agent: Any = ledger.mapper.to_domain_event(first[0]).mutate(None)
    return dict(agent.to_state())


def test_an_agent_met_twice_in_a_chunk_is_exact(ledger: Ledger) -> None:
    commands = campaign(ledger, 3)
    # Each agent's registration and line, then the same again: one chunk.
    outcomes = list(ledger.execute_many([*commands, *commands], chunk_size=12))
    assert [o.receipt.replayed for o in outcomes if o.receipt] == [False] * 6 + [True] * 6
    ids = list(dict.fromkeys(c.agent_id for c in commands))
    assert_loads_equal_replay(ledger, ids)
    assert all(a.balance == 25 and a.version == 2 for a in ledger.load_agents(ids).values())


def test_a_chunk_of_thousands_of_agents_is_recorded_in_one_transaction(ledger: Ledger) -> None:
    """The library's save() never returned on PostgreSQL past about 1000 aggregates; events now
    go by COPY, whatever the chunk's size."""
    commands = campaign(ledger, 2500)
    outcomes = list(ledger.execute_many(commands, chunk_size=5000))
    assert len(outcomes) == 5000 and all(o.error is None for o in outcomes)
    assert ledger.recorder.max_notification_id() == 5000


def test_an_agent_in_two_chunks_in_flight_is_exact(ledger: Ledger) -> None:
    """Chunks of three commands: an agent's registration and its lines fall in consecutive
    chunks, the second applied while the first is being written."""
    from datetime import date
    from decimal import Decimal

    from ledger import commands as cmd
    from ledger.domain.provenance import Channel, Provenance

    commands = campaign(ledger, 4)
    source = Provenance("operator:test", Channel.CAMPAIGN)
    more = [
        cmd.RecordAcquisitionLine(
            agent_id=c.agent_id,
            year=year,
            siret=c.siret,  # type: ignore[attr-defined]
            hours_worked=Decimal(800),
            provenance=source,
        )
        for c in commands[1::2]
        for year in (2022, 2023)
    ]
    stream = [x for pair in zip(commands[::2], commands[1::2], strict=True) for x in pair] + more
    outcomes = list(ledger.execute_many(stream, chunk_size=3))
    assert all(o.error is None for o in outcomes)
    ids = list(dict.fromkeys(c.agent_id for c in commands))
    assert_loads_equal_replay(ledger, ids)
    assert [a.balance for a in ledger.load_agents(ids).values()] == [25 + 13 + 13] * 4
    assert date(2023, 12, 31) in {r.receipt.effective_date for r in outcomes if r.receipt}
