"""The bulk path: many commands over many agents, in chunks, one write in flight.

Each chunk loads its agents in one query and records them in one transaction, so memory stays
flat whatever the input's length. On PostgreSQL a chunk is applied while the previous one is
being written (one write in flight): an agent of both is taken from the previous chunk, as it
will be once written; if that write fails (a concurrent writer), both are done again.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from ledger import commands as cmd
from ledger.conflicts import VERSION_CONFLICT_RETRIES, back_off
from ledger.domain import errors
from ledger.domain.agent import Agent, Receipt

if TYPE_CHECKING:
    from ledger.application import Ledger


@dataclass(frozen=True, slots=True)
class BulkOutcome:
    """What happened to one command of a bulk run: a receipt, or the error that refused it."""

    command: cmd.Command
    receipt: Receipt | None
    error: errors.DomainError | None


class BulkRun:
    """One run of the bulk path over a ledger (``Ledger.execute_many``)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def run(self, commands: Iterable[cmd.Command], chunk_size: int | None) -> Iterator[BulkOutcome]:
        size = chunk_size or self.ledger.settings.bulk_chunk_size
        iterator = iter(commands)
        chunks = iter(lambda: [c.with_fingerprint() for c in itertools.islice(iterator, size)], [])
        if not self.ledger.settings.uses_postgres:
            for chunk in chunks:
                yield from self._execute_chunk(chunk)
            return
        with ThreadPoolExecutor(1, thread_name_prefix="bulk-writer") as writer:
            flight: _InFlight | None = None
            for chunk in chunks:
                agents = self._load_after(chunk, flight)
                outcomes = apply_chunk(chunk, agents, self.ledger.cipher.seal)
                if flight is not None:
                    if flight.failed():  # a concurrent writer: redo it, then this one
                        yield from self._execute_chunk(flight.chunk)
                        flight = None
                        yield from self._execute_chunk(chunk)
                        continue
                    yield from flight.outcomes
                flight = self._submit(writer, chunk, agents, outcomes)
            if flight is not None:
                if flight.failed():
                    yield from self._execute_chunk(flight.chunk)
                else:
                    yield from flight.outcomes

    def _load_after(self, chunk: list[cmd.Command], flight: _InFlight | None) -> dict[UUID, Agent]:
        """The chunk's agents: from the chunk being written when it has them, else stored."""
        ids = list(dict.fromkeys(c.agent_id for c in chunk))
        carried = {} if flight is None else flight.agents
        agents = self.ledger.load_agents([i for i in ids if i not in carried])
        agents.update((i, carried[i]) for i in ids if i in carried)
        return agents

    def _submit(
        self,
        writer: ThreadPoolExecutor,
        chunk: list[cmd.Command],
        agents: dict[UUID, Agent],
        outcomes: list[BulkOutcome],
    ) -> _InFlight:
        """Start writing a chunk's events and states in the writer thread."""
        events, states = self.ledger._collect(a for a in agents.values() if a.pending_events)
        stored = [self.ledger.mapper.to_stored_event(e) for e in events]

        def write() -> None:
            if stored:
                self.ledger.recorder.insert_events(stored, agent_states=states)
                self.ledger.on_recorded(len(stored))

        return _InFlight(chunk, agents, outcomes, writer.submit(write))

    def _execute_chunk(self, chunk: list[cmd.Command]) -> list[BulkOutcome]:
        for attempt in itertools.count(1):
            agents = self.ledger.load_agents(list(dict.fromkeys(c.agent_id for c in chunk)))
            outcomes = apply_chunk(chunk, agents, self.ledger.cipher.seal)
            try:
                self.ledger.save(*(a for a in agents.values() if a.pending_events))
            except IntegrityError:
                if attempt >= VERSION_CONFLICT_RETRIES:
                    raise
                back_off(attempt)
                continue
            return outcomes
        raise AssertionError("unreachable")


@dataclass(slots=True)
class _InFlight:
    """A chunk whose write runs in the writer thread: its agents as they will be once written."""

    chunk: list[cmd.Command]
    agents: dict[UUID, Agent]
    outcomes: list[BulkOutcome]
    written: Future[None]

    def failed(self) -> bool:
        """Wait for the write; True when a concurrent writer got there first (version
        conflict), so the chunk must be done again from the store."""
        try:
            self.written.result()
        except IntegrityError:
            return True
        return False


def apply_chunk(
    chunk: list[cmd.Command],
    agents: dict[UUID, Agent],
    seal: Callable[[dict[str, Any]], dict[str, Any]],
) -> list[BulkOutcome]:
    """Apply a chunk's commands in order; a refused command records nothing and does not stop
    the others."""
    outcomes = []
    for command in chunk:
        try:
            outcomes.append(BulkOutcome(command, run_command(command, agents, seal), None))
        except errors.DomainError as error:
            outcomes.append(BulkOutcome(command, None, error))
    return outcomes


def run_command(
    command: cmd.Command,
    agents: dict[UUID, Agent],
    seal: Callable[[dict[str, Any]], dict[str, Any]],
) -> Receipt:
    """Apply one command to the agents of a chunk (creating the agent on registration)."""
    agent = agents.get(command.agent_id)
    if isinstance(command, cmd.RegisterAgent):
        if agent is None:
            agent = command.create(seal)
            agents[command.agent_id] = agent
            return agent.receipt(agent.pending_events[-1])  # type: ignore[arg-type]
        previous = agent.previous_outcome(command.provenance)
        if previous is not None:
            return previous
        if command.if_absent:
            return Receipt(
                agent.id, agent.version, "Registered", 0, 0, agent.balance, replayed=True
            )
        raise errors.AgentAlreadyRegistered("this agent is already registered")
    if agent is None:
        raise errors.AgentNotFound("no such agent")
    return agent.previous_outcome(command.provenance) or command.execute(agent)
