"""The ledger application: one method per command, idempotent retries, and the bulk path.

Built on an ``eventsourcing`` Application. Create one per process and keep it (it owns the
connection pool).
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Transcoding
from eventsourcing.utils import get_topic

from ledger import commands as cmd
from ledger.domain import errors
from ledger.domain.agent import Agent, Identity, Receipt
from ledger.domain.identifiers import Nir, agent_id_for
from ledger.store.cipher import IdentityCipher
from ledger.store.events import select_events_of
from ledger.store.recorders import event_store_env
from ledger.store.settings import Settings

T = TypeVar("T")
AGENT_TOPIC = get_topic(Agent) + "."
"""Every event of an agent has a topic starting with this."""
Guard = Callable[[Agent], None]
"""A check run on the loaded agent before a command (raises a DomainError to refuse)."""

VERSION_CONFLICT_RETRIES = 50
"""Attempts before a version conflict on one agent is given up (with jittered back-off)."""


def _back_off(attempt: int) -> None:
    time.sleep(random.uniform(0, min(0.05, 0.002 * attempt)))


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


@dataclass(frozen=True, slots=True)
class BulkOutcome:
    """What happened to one command of a bulk run: a receipt, or the error that refused it."""

    command: cmd.Command
    receipt: Receipt | None
    error: errors.DomainError | None


class Ledger(Application[UUID]):
    """The CPF ledger: agents' counters as event-sourced aggregates."""

    name = "Ledger"

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.id_key = self.settings.agent_id_key
        keys = self.settings.identity_keys
        self.cipher = IdentityCipher.parse(keys.get_secret_value() if keys else None)
        super().__init__(env=event_store_env(self.settings))

    on_recorded: Callable[[int], None] = staticmethod(lambda count: None)
    """Called with the number of events each save() recorded (metrics hook)."""

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        recordings = super().save(*objs, **kwargs)
        self.on_recorded(len(recordings))
        return recordings

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    # ---------------------------------------------------------------- queries

    def agent_id(self, nir: str) -> UUID:
        """The pseudonymous agent id of a NIR (whether or not it is registered)."""
        return agent_id_for(Nir.parse(nir), self.id_key)

    def aggregate(self, aggregate_id: UUID, kind: type[T], missing: errors.DomainError) -> T:
        """The stored aggregate of this id when it is a ``kind``; raises ``missing`` otherwise
        (an id of another kind of aggregate is as unknown as an id never used)."""
        try:
            found: Any = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise missing from None
        if not isinstance(found, kind):
            raise missing
        return found

    def get_agent(self, agent_id: UUID) -> Agent:
        """The agent's current state, replayed from its events."""
        return self.aggregate(agent_id, Agent, errors.AgentNotFound("no such agent"))

    def find_agent(self, nir: str, birth_name: str) -> UUID:
        """The id of the registered agent with this NIR and birth name; AgentNotFound otherwise
        (the same error whether the NIR is unknown or the name does not match)."""
        agent_id = self.agent_id(nir)
        if not self.identity(agent_id).matches(Nir.parse(nir), birth_name):
            raise errors.AgentNotFound("no registered agent with this NIR and birth name")
        return agent_id

    def identity(self, agent_id: UUID) -> Identity:
        """The agent's identity, from its registration event."""
        events = list(self.events.get(agent_id, lte=1))
        if not events:
            raise errors.AgentNotFound("no such agent")
        return Identity(**self.cipher.open(events[0].identity))  # type: ignore[attr-defined]

    def identity_of(self, agent: Agent) -> Identity:
        """The identity of a loaded agent (opened if sealed at rest)."""
        return agent.identity or Identity(**self.cipher.open(agent.stored_identity))

    def load_agents(self, agent_ids: Sequence[UUID]) -> dict[UUID, Agent]:
        """Many agents replayed from one query (the bulk path's batch read); an id of another
        kind of aggregate is no agent."""
        agents: dict[UUID, Agent] = {}
        for stored in select_events_of(self.recorder, agent_ids):
            if not stored.topic.startswith(AGENT_TOPIC):
                continue
            event: Agent.Event = self.mapper.to_domain_event(stored)  # type: ignore[assignment]
            agent_uuid = UUID(str(stored.originator_id))
            found = agents.get(agent_uuid)
            if found is None and not isinstance(event, Agent.Registered):
                continue  # no registration: whatever this stream is, it is no agent
            agents[agent_uuid] = event.mutate(found)  # type: ignore[assignment]
        return agents

    # -------------------------------------------------------------- commands

    def execute(self, command: cmd.Command, guard: Guard | None = None) -> Receipt:
        """Run one command; a retry with the same idempotency key returns the first outcome.

        ``guard`` is called with the loaded agent before the command runs (the caller's scope,
        judged on the agent's own history); it raises to refuse. Version conflicts with a
        concurrent writer on the same agent are retried.
        """
        command = command.with_fingerprint()
        for attempt in itertools.count(1):
            agents = self.load_agents([command.agent_id])
            if guard is not None:
                found = agents.get(command.agent_id)
                if found is None:
                    raise errors.AgentNotFound("no such agent")
                guard(found)
            receipt = _run(command, agents, self.cipher.seal)
            agent = agents.get(command.agent_id)
            if receipt.replayed or agent is None:
                return receipt
            try:
                recordings = self.save(agent)
            except IntegrityError:
                if attempt >= VERSION_CONFLICT_RETRIES:
                    raise
                _back_off(attempt)
                continue
            return replace(receipt, position=recordings[-1].notification.id)
        raise AssertionError("unreachable")

    def execute_many(
        self, commands: Iterable[cmd.Command], chunk_size: int | None = None
    ) -> Iterator[BulkOutcome]:
        """The bulk path: apply many commands to many agents, in chunks.

        Each chunk loads its agents in one query and saves them in one ``save()`` (one
        transaction), so memory stays flat whatever the input's length. Commands are applied in
        order; a refused command records nothing and does not stop the others.
        """
        size = chunk_size or self.settings.bulk_chunk_size
        iterator = iter(commands)
        while chunk := [c.with_fingerprint() for c in itertools.islice(iterator, size)]:
            yield from self._execute_chunk(chunk)

    def _execute_chunk(self, chunk: list[cmd.Command]) -> list[BulkOutcome]:
        for attempt in itertools.count(1):
            agents = self.load_agents(list(dict.fromkeys(c.agent_id for c in chunk)))
            outcomes = []
            for command in chunk:
                try:
                    outcomes.append(
                        BulkOutcome(command, _run(command, agents, self.cipher.seal), None)
                    )
                except errors.DomainError as error:
                    outcomes.append(BulkOutcome(command, None, error))
            try:
                self.save(*(a for a in agents.values() if a.pending_events))
            except IntegrityError:
                if attempt >= VERSION_CONFLICT_RETRIES:
                    raise
                _back_off(attempt)
                continue
            return outcomes
        raise AssertionError("unreachable")


def _run(
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
