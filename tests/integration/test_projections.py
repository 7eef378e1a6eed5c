"""Projections on both stores: views equal a replay, exactly once, blue/green rebuild, check."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import date
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from ledger.application import Ledger
from ledger.domain import errors
from ledger.domain.provenance import Channel, Provenance
from ledger.store.settings import Settings
from projections.checking import check
from projections.runner import Projector, ViewStatus
from tests.commands import (
    cancel_decrement,
    close_account,
    convert_dif,
    credit_inaptitude,
    declare_dif_reserve,
    declare_low_qualification,
    decrement,
    record_line,
    register_agent,
    regularise_year,
)
from tests.factories import make_nir, make_siret

OP = Provenance("operator:test", Channel.CLI)
SIRETS = [make_siret(i) for i in (1, 2, 3)]
ATTESTATION = {"signatory": "Mme Martin", "signature_date": "2024-03-01", "stamp_present": True}


def populate(
    ledger: Ledger, agents: int, moves: list[tuple[int, str, int, int]], first: int = 1
) -> list[UUID]:
    """Register ``agents`` agents (NIRs from ``first``) and apply a mix of every movement kind,
    refusals ignored."""
    ids = [
        register_agent(ledger, make_nir(first + i), "Nom", "Prénom", date(1980, 1, 1), OP).agent_id
        for i in range(agents)
    ]
    for step, (who, kind, a, b) in enumerate(moves):
        agent_id, siret = ids[who % agents], SIRETS[b % 3]
        try:
            if kind == "line":
                record_line(ledger, agent_id, 2017 + a % 9, siret, 200 * (b % 9), OP)
            elif kind == "dif":
                convert_dif(ledger, agent_id, 1 + a % 120, OP)
            elif kind == "low":
                declare_low_qualification(ledger, agent_id, 2017 + a % 9, OP)
            elif kind == "regularise":
                regularise_year(
                    ledger, agent_id, 2017 + a % 9, siret, (a % 21) - 10 or 1, ATTESTATION, OP
                )
            elif kind == "reserve":
                declare_dif_reserve(ledger, agent_id, siret, 1 + a % 120, OP)
            elif kind == "decrement":
                decrement(
                    ledger,
                    agent_id,
                    siret,
                    1 + a % 40,
                    date(2024, 1, 1),
                    OP,
                    anticipated=b % 2 == 0,
                    decrement_id=f"d{step}",
                )
            elif kind == "cancel":
                cancel_decrement(ledger, agent_id, f"d{a % (step + 1)}", "cancelled", OP)
            elif kind == "inaptitude":
                credit_inaptitude(ledger, agent_id, 1 + a % 60, OP)
            elif kind == "close":
                close_account(ledger, agent_id, "retirement" if b % 2 else "invalidity", OP)
        except errors.DomainError:
            pass
    return ids


KINDS = [
    "line",
    "line",
    "line",
    "dif",
    "low",
    "regularise",
    "reserve",
    "decrement",
    "decrement",
    "cancel",
    "inaptitude",
    "close",
]
moves_strategy = st.lists(
    st.tuples(st.integers(0, 5), st.sampled_from(KINDS), st.integers(0, 500), st.integers(0, 50)),
    max_size=60,
)


def assert_views_equal_replay(ledger: Ledger, projector: Projector, ids: list[UUID]) -> None:
    agents = ledger.load_agents(ids)
    with projector.store.transaction(write=False) as cur:
        balances = {
            row[0]: row
            for row in cur.execute(
                "SELECT agent_id, balance, reserve, status, low_qualification_from, version "
                "FROM balances"
            ).fetchall()
        }
        for agent_id, agent in agents.items():
            assert balances[agent_id.hex] == (
                agent_id.hex,
                agent.balance,
                agent.reserve,
                str(agent.status),
                agent.low_qualification_from,
                agent.version,
            )
            history = cur.execute(
                "SELECT version, hours, balance_after, reserve_after FROM movements "
                "WHERE agent_id = %s ORDER BY position",
                (agent_id.hex,),
            ).fetchall()
            assert [row[0] for row in history] == list(range(1, agent.version + 1))
            assert history[-1][2:] == (agent.balance, agent.reserve)
            assert sum(row[1] for row in history) == agent.balance
            index = set(
                cur.execute(
                    "SELECT siret, year FROM employer_index WHERE agent_id = %s AND year > 0",
                    (agent_id.hex,),
                ).fetchall()
            )
            assert index == {(s, y) for y, lines in agent.year_lines.items() for s in lines}


@pytest.fixture
def projector(ledger: Ledger) -> Projector:
    return Projector(ledger, page_size=7)  # small pages: many page boundaries in small tests


@hsettings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(moves=moves_strategy)
def test_views_equal_a_replay_of_the_events(ledger: Ledger, moves: list) -> None:  # type: ignore[type-arg]
    # Examples share the store (a new database per example would be slow): each one uses agents
    # of its own (new NIRs), and the whole views must still pass check.
    first = (ledger.recorder.max_notification_id() or 0) + 1
    ids = populate(ledger, 6, moves, first=first)
    projector = Projector(ledger, page_size=7)
    projector.catch_up()
    assert_views_equal_replay(ledger, projector, ids)
    assert check(projector) == []


def test_catch_up_applies_each_event_exactly_once(ledger: Ledger, projector: Projector) -> None:
    ids = populate(ledger, 3, [(0, "line", 4, 1), (1, "line", 4, 1), (0, "decrement", 5, 1)])
    projector.catch_up()
    projector.catch_up()  # nothing new: nothing applied twice
    populate_more = record_line(ledger, ids[2], 2021, SIRETS[0], 1607, OP)
    assert populate_more.hours == 25
    projector.catch_up()
    assert_views_equal_replay(ledger, projector, ids)
    status = {s.view: s for s in projector.status()}
    assert status["balances"].lag_events == 0
    assert status["movements"].position == ledger.recorder.max_notification_id()


def test_check_finds_a_row_altered_by_hand(ledger: Ledger, projector: Projector) -> None:
    ids = populate(ledger, 2, [(0, "line", 4, 1), (1, "line", 5, 2)])
    projector.catch_up()
    assert check(projector) == []
    with projector.store.transaction() as cur:
        cur.execute(
            "UPDATE balances_g1 SET balance = balance + 1 WHERE agent_id = %s", (ids[0].hex,)
        )
        cur.execute("DELETE FROM employer_index_g1 WHERE agent_id = %s", (ids[1].hex,))
    problems = {(d.view, d.problem) for d in check(projector)}
    assert problems == {
        ("balances", "altered"),  # against a replay of the log
        ("balances", "differs_from_write_model"),  # against the agents themselves
        ("employer_index", "missing"),
    }


def test_rebuild_swaps_in_identical_views_and_readers_see_the_old_ones_meanwhile(
    ledger: Ledger, projector: Projector
) -> None:
    ids = populate(ledger, 6, [(i, "line", i, i) for i in range(30)])
    projector.catch_up()
    with projector.store.transaction(write=False) as cur:
        before = {name: view.rows(cur, 1) for name, view in _views().items()}
    seen_during: list[int] = []

    def progress(position: int, head: int) -> None:
        with projector.store.transaction(write=False) as cur:
            row = cur.execute("SELECT COUNT(*) FROM balances").fetchone()
            assert row is not None
            seen_during.append(row[0])

    projector.rebuild(progress=progress)
    assert seen_during and set(seen_during) == {len(ids)}
    with projector.store.transaction(write=False) as cur:
        after = {name: view.rows(cur, 2) for name, view in _views().items()}
        cur.execute("SELECT COUNT(*) FROM movements")
    assert after == before
    assert {s.generation for s in projector.status()} == {2}
    assert check(projector) == []


def _views() -> dict:  # type: ignore[type-arg]
    from projections.views import VIEWS

    return VIEWS


def test_a_rebuild_killed_half_way_resumes_to_identical_views(
    ledger: Ledger, settings: Settings
) -> None:
    """Killed for real, a rebuild page by page resumes from each view's last committed page."""
    status = kill_a_rebuild_half_way(ledger, settings, first_pass=False)
    assert 0 < (status["balances"].rebuilding_position or 0) < status["balances"].head


def kill_a_rebuild_half_way(
    ledger: Ledger, settings: Settings, first_pass: bool
) -> dict[str, ViewStatus]:
    """Kill a rebuild in a child process (SIGKILL) once it has reported some progress, check
    that the next rebuild ends with the views it replaces; returns the status seen in between."""
    populate(ledger, 40, [(i, "line", i, i) for i in range(400)])
    projector = Projector(ledger, page_size=50)
    projector.catch_up()
    with projector.store.transaction(write=False) as cur:
        before = {name: view.rows(cur, 1) for name, view in _views().items()}
    env = {
        **os.environ,
        "LEDGER_DATA_DIR": str(settings.data_dir),
        "LEDGER_DATABASE_URL": settings.database_url or "",
        "LEDGER_ID_KEY": "k" * 40,
    }
    script = (
        "import time\n"
        "from ledger.application import Ledger\n"
        "from projections.runner import Projector\n"
        f"p = Projector(Ledger(), page_size=5, first_pass={first_pass})\n"
        "def slow(position, head):\n"
        "    print(position, flush=True); time.sleep(0.05)\n"
        "p.rebuild(progress=slow)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    reached = 0
    while reached < 150:  # let it commit some pages, then kill it for real
        line = child.stdout.readline()
        assert line, "the rebuild ended before it could be killed"
        reached = int(line)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    status = {s.view: s for s in projector.status()}
    assert {s.rebuilding_generation for s in status.values()} == {2}
    projector.rebuild()
    with projector.store.transaction(write=False) as cur:
        after = {name: view.rows(cur, 2) for name, view in _views().items()}
    assert after == before
    assert check(projector) == []
    return status
