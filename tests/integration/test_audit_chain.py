"""Tampering with the stored events by raw SQL is found at the right position, every time."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import psycopg
import pytest

from ledger.application import Ledger
from ledger.audit import check_checkpoint, make_checkpoint, private_key, verify_chain
from ledger.domain.provenance import Channel, Provenance
from ledger.store.chain import GENESIS, next_chain, record_digest
from ledger.store.settings import Settings
from tests.commands import record_line, register_agent
from tests.factories import make_nir, make_siret

OP = Provenance("operator:test", Channel.CLI)


def populate(ledger: Ledger, agents: int = 5) -> None:
    for seq in range(1, agents + 1):
        agent_id = register_agent(
            ledger, make_nir(seq), "Nom", "Prénom", date(1980, 1, 1), OP
        ).agent_id
        record_line(ledger, agent_id, 2021, make_siret(1), 1607, OP)
        record_line(ledger, agent_id, 2022, make_siret(1), 1607, OP)


@contextmanager
def raw(settings: Settings) -> Iterator[tuple[Any, str, str]]:
    """A raw connection to the event store: (connection, events table, position column)."""
    if settings.database_url:
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            yield conn, "ledger_events", "notification_id"
    else:
        conn = sqlite3.connect(settings.data_dir / "ledger.sqlite3", isolation_level=None)
        try:
            yield conn, "stored_events", "rowid"
        finally:
            conn.close()


def sql(settings: Settings, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
    with raw(settings) as (conn, table, position):
        text = statement.format(table=table, position=position)
        if not settings.database_url:
            text = text.replace("%s", "?")
        cursor = conn.execute(text, params)
        try:
            return list(cursor.fetchall())
        except Exception:
            return []


def alter(settings: Settings) -> int:
    state = bytes(sql(settings, "SELECT state FROM {table} WHERE {position} = 8")[0][0])
    forged = state.replace(b'"credited":25', b'"credited":95')
    assert forged != state
    sql(settings, "UPDATE {table} SET state = %s WHERE {position} = 8", (forged,))
    return 8


def delete(settings: Settings) -> int:
    sql(settings, "DELETE FROM {table} WHERE {position} = 5")
    return 5


def insert(settings: Settings) -> int:
    rows = sql(settings, "SELECT originator_id, topic, state FROM {table} WHERE {position} = 2")
    originator, topic, state = rows[0]
    sql(
        settings,
        "INSERT INTO {table} (originator_id, originator_version, topic, state) "
        "VALUES (%s, 99, %s, %s)",
        (originator, topic, bytes(state)),
    )
    return 16


def swap(settings: Settings) -> int:
    # Exchange the log positions of two events.
    sql(settings, "UPDATE {table} SET {position} = 1000 WHERE {position} = 3")
    sql(settings, "UPDATE {table} SET {position} = 3 WHERE {position} = 6")
    sql(settings, "UPDATE {table} SET {position} = 6 WHERE {position} = 1000")
    return 3


TAMPERINGS: dict[str, tuple[Callable[[Settings], int], set[str]]] = {
    "update": (alter, {"altered"}),
    "delete": (delete, {"deleted"}),
    "insert": (insert, {"inserted"}),
    "swap": (swap, {"reordered"}),
}


def test_an_untouched_log_verifies(ledger: Ledger) -> None:
    populate(ledger)
    result = verify_chain(ledger.recorder)
    assert result.ok and result.checked == 15 and result.head_position == 15


@pytest.mark.parametrize("kind", sorted(TAMPERINGS))
def test_tampering_is_found_at_its_position(ledger: Ledger, settings: Settings, kind: str) -> None:
    populate(ledger)
    tamper, problems = TAMPERINGS[kind]
    position = tamper(settings)
    result = verify_chain(ledger.recorder)
    assert result.first_break is not None
    assert (result.first_break.position, result.first_break.problem in problems) == (position, True)
    assert result.checked == position - 1


def test_a_checkpoint_taken_before_proves_a_rewrite_of_the_whole_chain(
    ledger: Ledger, settings: Settings
) -> None:
    populate(ledger)
    key = private_key(settings.checkpoint_signing_seed)
    checkpoint = make_checkpoint(ledger.recorder, key)
    exported = checkpoint.export()
    assert check_checkpoint(ledger.recorder, checkpoint, checkpoint.public_key) is None
    # The attacker alters an event and recomputes the whole chain table consistently.
    alter(settings)
    previous = GENESIS
    rows = sql(
        settings,
        "SELECT {position}, originator_id, originator_version, topic, state "
        "FROM {table} ORDER BY {position}",
    )
    for position, originator, version, topic, state in rows:
        digest = record_digest(originator, version, topic, bytes(state))
        previous = next_chain(previous, position, digest)
        sql(
            settings,
            "UPDATE event_chain SET digest = %s, chain = %s WHERE position = %s",
            (digest, previous, position),
        )
    assert verify_chain(ledger.recorder).ok  # the chain alone no longer shows it
    from ledger.audit import Checkpoint

    kept = Checkpoint.load(exported)
    problem = check_checkpoint(ledger.recorder, kept, kept.public_key)
    assert problem is not None and "differs" in problem
    forged = Checkpoint(**{**kept.__dict__, "chain": previous.hex()})
    assert (
        check_checkpoint(ledger.recorder, forged, kept.public_key) == "the signature is not valid"
    )


def test_stored_topics_read_back_as_the_agents_events(ledger: Ledger) -> None:
    """What the store holds names the event by its place on the Agent, and reads back as it."""
    populate(ledger, agents=1)
    stored = list(ledger.recorder.select_notifications(0, 10))
    assert [n.topic for n in stored] == [
        "ledger.agent:Agent.Registered",
        "ledger.agent:Agent.AcquisitionLineRecorded",
        "ledger.agent:Agent.AcquisitionLineRecorded",
    ]
    (agent,) = ledger.replay_agents([stored[0].originator_id]).values()
    assert agent.version == 3 and agent.balance > 0
