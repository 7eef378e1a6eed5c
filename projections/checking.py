"""Do the views tell the truth? They are recomputed from the events in a scratch store and
compared row by row, and the balances are compared with the write model itself (every agent
replayed from all its stored events, whatever their positions)."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

from ledger.domain.agent import Agent
from ledger.store.events import agent_ids, last_positions
from ledger.store.settings import Settings
from projections.generations import LIVE, Target, create_bookkeeping
from projections.runner import Projector
from projections.store import ViewStore
from projections.views import VIEWS


@dataclass(frozen=True, slots=True)
class Difference:
    view: str
    key: tuple[str, ...]
    problem: str  # "missing", "unexpected" or "altered"
    expected: tuple[str, ...] | None
    found: tuple[str, ...] | None


def check(projector: Projector, names: Sequence[str] = tuple(VIEWS)) -> list[Difference]:
    """Recompute the views from the events (in a scratch store) and report every difference
    with the live views, at the position they have applied."""
    differences: list[Difference] = []
    with projector.store.transaction(write=False, snapshot=True) as cur:
        live = projector.targets(cur, LIVE, names)
        found = {t.view.name: t.view.rows(cur, t.generation) for t in live}
        positions = {t.view.name: t.position for t in live}
    with tempfile.TemporaryDirectory() as scratch_dir:
        # Always an SQLite file: the environment may name the live database.
        scratch = ViewStore(Settings(data_dir=Path(scratch_dir), database_url=None))
        with scratch.transaction() as cur:
            create_bookkeeping(cur)
            for name in names:
                projector.create_generation(cur, VIEWS[name], 1, LIVE)
        for name in names:
            target = Target(VIEWS[name], 1, 0)
            while target.position < positions[name]:
                with scratch.transaction() as cur:
                    page = projector.page_size
                    projector.page_size = min(page, positions[name] - target.position)
                    try:
                        read, (target,) = projector.apply_page(cur, [target])
                    finally:
                        projector.page_size = page
                if not read:
                    break
            with scratch.transaction(write=False) as cur:
                expected = VIEWS[name].rows(cur, 1)
            differences += _compare(name, expected, found[name])
    if "balances" in names:
        differences += check_write_model(projector, positions["balances"])
    return differences


def check_write_model(projector: Projector, applied: int) -> list[Difference]:
    """Compare the balances view with the write model: every agent replayed from all its
    stored events (the rows a page of the log would not reach included). Agents that moved
    after the view's position are skipped (the view has not seen them yet)."""
    differences: list[Difference] = []
    names = ("balance", "reserve", "status", "version")
    everyone = agent_ids(projector.ledger.recorder)
    for start in range(0, len(everyone), 500):
        chunk = [UUID(str(a)) for a in everyone[start : start + 500]]
        latest = last_positions(projector.ledger.recorder, chunk)
        loaded = projector.ledger.replay_agents(chunk)
        differences += [  # agent events on a stream that is no agent's
            Difference("balances", (agent_id.hex,), "not_an_agent", None, None)
            for agent_id in chunk
            if agent_id not in loaded
        ]
        differences += _folded_states(projector.ledger.load_agents(chunk), loaded)
        agents = {
            agent_id: agent
            for agent_id, agent in loaded.items()
            if latest.get(agent_id, 0) <= applied  # the view has seen all of it
        }
        with projector.store.transaction(write=False) as cur:
            rows = {
                row[0]: tuple(str(v) for v in row[1:])
                for row in cur.select_in(
                    f"SELECT agent_id, {', '.join(names)}, position FROM balances WHERE",
                    "agent_id",
                    [a.hex for a in agents],
                )
            }
        for agent_id, agent in agents.items():
            expected = (
                str(agent.balance),
                str(agent.reserve),
                str(agent.status),
                str(agent.version),
            )
            row = rows.get(agent_id.hex)
            if row is None or row[:-1] != expected:
                differences.append(
                    Difference(
                        "balances",
                        (agent_id.hex,),
                        "differs_from_write_model",
                        expected,
                        None if row is None else row[:-1],
                    )
                )
    return differences


def _summary(agent: Agent) -> tuple[str, ...]:
    return (str(agent.balance), str(agent.reserve), str(agent.status), str(agent.version))


def _folded_states(folded: dict[UUID, Agent], replayed: dict[UUID, Agent]) -> list[Difference]:
    """Agents whose folded state (what commands load: the whole state, not only the balance)
    is not what their events replay to."""
    return [
        Difference(
            "agent_state",
            (agent_id.hex,),
            "state_differs_from_events",
            _summary(agent),
            _summary(folded[agent_id]) if agent_id in folded else None,
        )
        for agent_id, agent in replayed.items()
        if agent_id not in folded
        or (folded[agent_id].version, folded[agent_id].to_state())
        != (agent.version, agent.to_state())
    ]


def _compare(
    name: str,
    expected: dict[tuple[str, ...], tuple[str, ...]],
    found: dict[tuple[str, ...], tuple[str, ...]],
) -> list[Difference]:
    result = []
    for key, row in expected.items():
        if key not in found:
            result.append(Difference(name, key, "missing", row, None))
        elif found[key] != row:
            result.append(Difference(name, key, "altered", row, found[key]))
    for key, row in found.items():
        if key not in expected:
            result.append(Difference(name, key, "unexpected", None, row))
    return result
