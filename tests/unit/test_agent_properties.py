"""Invariants of the Agent aggregate over random histories (hypothesis)."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain import errors, rules
from ledger.domain.agent import Agent, ClosureReason, Identity, Status
from ledger.domain.provenance import Channel, Provenance

OP = Provenance("operator:test", Channel.CLI)
SIRETS = ["21750001600019", "21750001600027", "21750001600035"]


def new_agent() -> Agent:
    identity = Identity("180057505600167", "Dupont", "Jean", date(1980, 5, 1))
    return Agent.register(uuid.uuid4(), identity, date(2017, 1, 1), OP)


movement = st.one_of(
    st.tuples(
        st.just("line"), st.integers(2017, 2026), st.sampled_from(SIRETS), st.integers(0, 2000)
    ),
    st.tuples(st.just("decrement"), st.integers(1, 120), st.sampled_from(SIRETS), st.booleans()),
    st.tuples(st.just("reserve"), st.integers(1, 120), st.sampled_from(SIRETS)),
    st.tuples(st.just("dif"), st.integers(1, 120)),
    st.tuples(st.just("low"), st.integers(2017, 2026)),
    st.tuples(st.just("cancel"), st.integers(0, 20)),
    st.tuples(st.just("inaptitude"), st.integers(1, 100)),
    st.tuples(
        st.just("regularise"),
        st.integers(2017, 2026),
        st.sampled_from(SIRETS),
        st.integers(-30, 30),
    ),
    st.tuples(st.just("close"), st.sampled_from(["retirement", "invalidity"])),
)
SIGNED = {"signatory": "Mme Roux", "signature_date": "2024-03-01", "stamp_present": True}


def apply(agent: Agent, move: tuple, step: int) -> None:  # type: ignore[type-arg]
    kind = move[0]
    try:
        if kind == "line":
            agent.record_acquisition_line(move[1], move[2], Decimal(move[3]), OP)
        elif kind == "decrement":
            agent.decrement(f"d{step}", move[2], move[1], {}, date(2024, 1, 1), OP, move[3])
        elif kind == "reserve":
            agent.declare_dif_reserve(move[2], move[1], OP)
        elif kind == "dif":
            agent.convert_dif(move[1], OP)
        elif kind == "low":
            agent.declare_low_qualification(move[1], OP)
        elif kind == "cancel":
            agent.cancel_decrement(f"d{move[1]}", "cancelled", OP)
        elif kind == "inaptitude":
            agent.credit_inaptitude(move[1], date(2024, 1, 1), OP)
        elif kind == "regularise":
            agent.regularise_year(move[1], move[2], move[3] or 1, SIGNED, OP)
        elif kind == "close":
            agent.close(ClosureReason(move[1]), date(2026, 1, 1), OP)
    except errors.DomainError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.lists(movement, max_size=30))
def test_balance_never_below_floor_and_credits_never_above_ceiling(moves: list) -> None:  # type: ignore[type-arg]
    agent = new_agent()
    for step, move in enumerate(moves):
        before_balance, before_version = agent.balance, agent.version
        apply(agent, move, step)
        if agent.version == before_version:
            assert agent.balance == before_balance  # refused: nothing changed
            continue
        event = agent.pending_events[-1]
        if isinstance(event, Agent.AcquisitionLineRecorded | Agent.DifConverted):
            assert event.counter_change() == 0 or agent.balance <= agent.ceiling_for(
                getattr(event, "year", 2017)
            )
        if isinstance(event, Agent.Decremented):
            assert agent.balance >= rules.anticipation_floor(2024, agent.is_low_qualified(2024))
            assert event.anticipated or agent.balance >= 0
        assert all(hours >= 0 for hours in agent.reserves.values())


@settings(max_examples=200, deadline=None)
@given(
    year=st.integers(2017, 2026),
    start=st.integers(0, 150),
    lines=st.lists(
        st.tuples(st.sampled_from(SIRETS), st.integers(0, 1607)),
        min_size=1,
        max_size=3,
        unique_by=lambda line: line[0],
    ),
    order=st.randoms(use_true_random=False),
)
def test_the_order_of_a_years_lines_does_not_change_its_credit(
    year: int, start: int, lines: list[tuple[str, int]], order: object
) -> None:
    def credit(ordered: list[tuple[str, int]]) -> int:
        agent = new_agent()
        agent.balance = start  # a counter already holding ``start`` hours before this year
        for siret, hours in ordered:
            agent.record_acquisition_line(year, siret, Decimal(hours), OP)
        return agent.balance - start

    shuffled = list(lines)
    order.shuffle(shuffled)  # type: ignore[attr-defined]
    assert credit(lines) == credit(shuffled) == credit(list(reversed(lines)))


@settings(max_examples=300, deadline=None)
@given(st.lists(movement, max_size=40))
def test_the_clarified_rules_hold_over_random_histories(moves: list) -> None:  # type: ignore[type-arg]
    agent = new_agent()
    for step, move in enumerate(moves):
        before_balance, before_version = agent.balance, agent.version
        closed_before = agent.status is not Status.OPEN
        apply(agent, move, step)
        if agent.version == before_version:
            continue
        event = agent.pending_events[-1]
        if isinstance(event, Agent.YearRegularised):
            year = event.year
            credit = agent.year_credited.get(year, 0) + agent.year_regularised.get(year, 0)
            full = rules.full_year_credit(year, agent.year_base[year], agent.is_low_qualified(year))
            assert credit >= 0
            assert event.requested < 0 or credit <= full  # never above a full year's credit
            assert 0 <= event.applied <= event.requested or event.applied == event.requested < 0
        if isinstance(event, Agent.Decremented):
            if event.from_reserve == event.hours:
                assert agent.balance == before_balance  # the reserve covered it: counter untouched
            if closed_before:
                assert agent.balance >= min(before_balance, 0)  # no anticipation after closure
                assert event.from_counter == 0 or agent.balance >= 0
        assert agent.reserve == sum(agent.reserves.values())
