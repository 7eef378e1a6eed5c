"""The ledger application: one method per command, idempotent retries, and the bulk path.

Built on an ``eventsourcing`` Application. Create one per process and keep it (it owns the
connection pool).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import date
from typing import Any, TypeVar
from uuid import UUID

import orjson
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import (
    IntegrityError,
    JSONTranscoder,
    StoredEvent,
    Transcoder,
    Transcoding,
)
from eventsourcing.utils import get_topic

from ledger import commands as cmd
from ledger.bulk import BulkOutcome, BulkRun, run_command
from ledger.conflicts import VERSION_CONFLICT_RETRIES, back_off
from ledger.domain import errors
from ledger.domain.agent import Agent, Identity, Receipt
from ledger.domain.identifiers import Nir, agent_id_for
from ledger.domain.movements import fold_name
from ledger.group_commit import CommandGroup, fewer_collections
from ledger.store.cipher import IdentityCipher
from ledger.store.events import analyse_tables, select_agent_records, select_events_of
from ledger.store.recorders import event_store_env
from ledger.store.settings import Settings
from ledger.store.transcoder import OrjsonTranscoder

T = TypeVar("T")
AGENT_TOPIC = get_topic(Agent) + "."
"""Every event of an agent has a topic starting with this."""
Guard = Callable[[Agent], None]
"""A check run on the loaded agent before a command (raises a DomainError to refuse)."""

BIRTH_NAMES_KEPT = 100_000
"""Birth names kept in memory for look-ups by NIR and birth name."""


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class Ledger(Application[UUID]):
    """The CPF ledger: agents' counters as event-sourced aggregates."""

    name = "Ledger"

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.id_key = self.settings.agent_id_key
        keys = self.settings.identity_keys
        self.cipher = IdentityCipher.parse(keys.get_secret_value() if keys else None)
        super().__init__(env=event_store_env(self.settings))
        # Registered agents' folded birth names, by id (an identity never changes; the id is an
        # HMAC of the NIR, so the id found stands for the NIR): decrements by NIR and birth name
        # read the registration event once.
        self._birth_names: dict[UUID, str] = {}
        self._group: CommandGroup[tuple[cmd.Command, Guard | None], Receipt] | None = None
        if self.settings.uses_postgres and self.settings.group_commit:
            self._group = CommandGroup(self._execute_together)

    on_recorded: Callable[[int], None] = staticmethod(lambda count: None)
    """Called with the number of events each save() recorded (metrics hook)."""

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """Record the pending events of ``objs``, with each agent's folded state, in one
        transaction; returns the recordings (events with their log positions)."""
        events, states = self._collect(objs)
        if not events:
            return []
        recordings = self.events.put(events, agent_states=states, **kwargs)
        self.on_recorded(len(recordings))
        return recordings

    @staticmethod
    def _collect(objs: Iterable[Any]) -> tuple[list[Any], list[tuple[UUID, int, bytes]]]:
        """The pending events of the aggregates (or events) ``objs``, and each agent's folded
        state after them. (The library's ``save`` does the same with runtime protocol checks
        that cost more than the rest of a bulk chunk's bookkeeping.)"""
        events: list[Any] = []
        states = []
        for obj in objs:
            if obj is None:
                continue
            if not hasattr(obj, "collect_events"):
                events.append(obj)
                continue
            pending = obj.collect_events()
            if pending and isinstance(obj, Agent):
                states.append((obj.id, obj.version, orjson.dumps(obj.to_state())))
            events += pending
        return events, states

    def construct_transcoder(self) -> Transcoder:
        transcoder = OrjsonTranscoder()
        self.register_transcodings(transcoder)
        return transcoder

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
        """The agent's current state (its folded state, and any event recorded after it)."""
        found = self.load_agents([agent_id]).get(agent_id)
        if found is None:
            raise errors.AgentNotFound("no such agent")
        return found

    def find_agent(self, nir: str, birth_name: str) -> UUID:
        """The id of the registered agent with this NIR and birth name; AgentNotFound otherwise
        (the same error whether the NIR is unknown or the name does not match)."""
        agent_id = self.agent_id(nir)
        known = self._birth_names.get(agent_id)
        if known is None:
            identity = self.identity(agent_id)
            if identity.nir != Nir.parse(nir).value:
                raise errors.AgentNotFound("no registered agent with this NIR and birth name")
            known = fold_name(identity.birth_name)
            if len(self._birth_names) >= BIRTH_NAMES_KEPT:
                self._birth_names.clear()
            self._birth_names[agent_id] = known
        if known != fold_name(birth_name):
            raise errors.AgentNotFound("no registered agent with this NIR and birth name")
        return agent_id

    def identity(self, agent_id: UUID) -> Identity:
        """The agent's identity, from its registration event."""
        events = list(self.events.get(agent_id, lte=1))
        if not events:
            raise errors.AgentNotFound("no such agent")
        return Identity(**self.cipher.open(events[0].identity))  # type: ignore[attr-defined]

    def identities(self, agent_ids: Sequence[UUID]) -> dict[UUID, Identity]:
        """The identities of many agents, from their registration events (one query)."""
        found = {}
        for stored in select_events_of(self.recorder, agent_ids, only_first=True):
            event: Any = self.mapper.to_domain_event(stored)
            found[UUID(str(stored.originator_id))] = Identity(**self.cipher.open(event.identity))
        return found

    def load_agents(self, agent_ids: Sequence[UUID]) -> dict[UUID, Agent]:
        """Many agents in one query: each from its folded state, plus any event recorded after
        it (a state of another format is replayed from the first event); an id of another kind
        of aggregate is no agent."""
        agents: dict[UUID, Agent] = {}
        stale: list[UUID] = []
        for record in select_agent_records(self.recorder, agent_ids):
            agent = None
            if record.state is not None:
                agent = Agent.from_state(
                    record.agent_id, record.state_version, orjson.loads(record.state)
                )
                if agent is None:
                    stale.append(record.agent_id)
                    continue
            folded = self._fold(agent, record.events)
            if folded is not None:
                agents[record.agent_id] = folded
        agents.update(self.replay_agents(stale))
        return agents

    def replay_agents(self, agent_ids: Sequence[UUID]) -> dict[UUID, Agent]:
        """Many agents replayed from all their events, ignoring folded states (one query)."""
        agents: dict[UUID, Agent] = {}
        for stored in select_events_of(self.recorder, agent_ids):
            agent_uuid = UUID(str(stored.originator_id))
            folded = self._fold(agents.get(agent_uuid), [stored])
            if folded is not None:
                agents[agent_uuid] = folded
        return agents

    def _fold(self, agent: Agent | None, events: Sequence[StoredEvent]) -> Agent | None:
        """``agent`` with ``events`` applied; None for a stream that is no agent's (another
        kind of aggregate, or no registration first)."""
        for stored in events:
            if not stored.topic.startswith(AGENT_TOPIC):
                return None
            event: Agent.Event = self.mapper.to_domain_event(stored)  # type: ignore[assignment]
            if agent is None and not isinstance(event, Agent.Registered):
                return None
            agent = event.mutate(agent)
        return agent

    def analyse(self) -> None:
        """Refresh the store's statistics after a bulk load (PostgreSQL)."""
        analyse_tables(self.recorder)

    # -------------------------------------------------------------- commands

    def execute(self, command: cmd.Command, guard: Guard | None = None) -> Receipt:
        """Run one command; a retry with the same idempotency key returns the first outcome.

        ``guard`` is called with the loaded agent before the command runs (the caller's scope,
        judged on the agent's own history); it raises to refuse. Version conflicts with a
        concurrent writer on the same agent are retried. On PostgreSQL, commands executed
        concurrently in this process are applied and recorded together, in one transaction
        (group commit: one lock, one fsync for many commands).
        """
        command = command.with_fingerprint()
        if self._group is not None:
            return self._group.run((command, guard))
        for attempt in itertools.count(1):
            agents = self.load_agents([command.agent_id])
            if guard is not None:
                found = agents.get(command.agent_id)
                if found is None:
                    raise errors.AgentNotFound("no such agent")
                guard(found)
            receipt = run_command(command, agents, self.cipher.seal)
            agent = agents.get(command.agent_id)
            if receipt.replayed or agent is None:
                return receipt
            try:
                recordings = self.save(agent)
            except IntegrityError:
                if attempt >= VERSION_CONFLICT_RETRIES:
                    raise
                back_off(attempt)
                continue
            return replace(receipt, position=recordings[-1].notification.id)
        raise AssertionError("unreachable")

    def _execute_together(
        self, items: Sequence[tuple[cmd.Command, Guard | None]]
    ) -> list[Receipt | BaseException]:
        """Apply concurrent callers' commands in order and record them in one transaction;
        each caller's receipt (with its log position), or the error that refused its command."""
        for attempt in itertools.count(1):
            agents = self.load_agents(list(dict.fromkeys(c.agent_id for c, _ in items)))
            results: list[Receipt | BaseException] = []
            for command, guard in items:
                try:
                    if guard is not None:
                        found = agents.get(command.agent_id)
                        if found is None:
                            raise errors.AgentNotFound("no such agent")
                        guard(found)
                    results.append(run_command(command, agents, self.cipher.seal))
                except Exception as error:  # refused: this caller's answer, not the others'
                    results.append(error)
            try:
                recordings = self.save(*(a for a in agents.values() if a.pending_events))
            except IntegrityError:
                if attempt >= VERSION_CONFLICT_RETRIES:
                    raise
                back_off(attempt)
                continue
            positions = {
                (r.domain_event.originator_id, r.domain_event.originator_version): (
                    r.notification.id
                )
                for r in recordings
            }
            return [
                replace(r, position=positions[(r.agent_id, r.version)])
                if isinstance(r, Receipt) and not r.replayed
                else r
                for r in results
            ]
        raise AssertionError("unreachable")

    def execute_many(
        self, commands: Iterable[cmd.Command], chunk_size: int | None = None
    ) -> Iterator[BulkOutcome]:
        """The bulk path: apply many commands to many agents, in chunks.

        Each chunk loads its agents in one query and records them in one transaction, so memory
        stays flat whatever the input's length. Commands are applied in order; a refused command
        records nothing and does not stop the others. On PostgreSQL a chunk is applied while the
        previous one is being written (one write in flight): an agent of both is taken from the
        previous chunk, as it will be once written; if that write fails, both are done again.
        """
        with fewer_collections():
            yield from BulkRun(self).run(commands, chunk_size)
