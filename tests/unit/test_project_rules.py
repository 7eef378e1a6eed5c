"""The project rules DOMAIN settles (regularisations within the year's rules, reserve-covered
decrements, no anticipation after a closure) and each movement's effective date."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest

from ledger.domain import errors, rules
from ledger.domain.agent import Agent, ClosureReason, Identity
from ledger.domain.provenance import Channel, Provenance

OP = Provenance("operator:test", Channel.CLI)
SIRET, OTHER = "21750001600019", "21750001600027"
SIGNED = {"signatory": "Mme Roux", "signature_date": "2024-03-01", "stamp_present": True}


def new_agent() -> Agent:
    identity = Identity("180057505600167", "Dupont", "Jean", date(1980, 5, 1))
    return Agent.register(uuid.uuid4(), identity, date(2017, 1, 1), OP)


def line(agent: Agent, year: int, hours: str = "1607", siret: str = SIRET) -> int:
    return agent.record_acquisition_line(year, siret, Decimal(hours), OP).hours


# -------------------------------------------------------------- regularisations


def test_a_full_year_cannot_be_regularised_upwards() -> None:
    agent = new_agent()
    assert line(agent, 2022) == 25
    with pytest.raises(errors.RegularisationAboveFullYear) as refused:
        agent.regularise_year(2022, SIRET, 4, SIGNED, OP)
    assert refused.value.details == {"year_credit": 25, "full_year": 25}
    assert (agent.balance, agent.version) == (25, 2)  # nothing recorded


def test_a_part_time_year_is_regularised_up_to_a_full_year_and_no_further() -> None:
    agent = new_agent()
    assert line(agent, 2022, "803.5") == 13  # half a year: 12.5 rounded up
    receipt = agent.regularise_year(2022, SIRET, 12, SIGNED, OP)
    assert (receipt.hours, receipt.requested, agent.balance) == (12, 12, 25)
    with pytest.raises(errors.RegularisationAboveFullYear):
        agent.regularise_year(2022, SIRET, 1, SIGNED, OP)


def test_the_full_year_is_judged_from_the_counter_at_the_years_first_credit() -> None:
    # DOMAIN's step example: at 110 h, a full 2018 credits 17 h (10 h at 24/year, then 7 h).
    agent = new_agent()
    agent.balance = 110
    assert line(agent, 2018, "803.5") == 11  # 10 h reach 120 h, then 1/12 of a year at 12 h
    agent.decrement("d1", SIRET, 50, {}, date(2019, 1, 5), OP)  # the counter moves meanwhile
    assert agent.regularise_year(2018, SIRET, 6, SIGNED, OP).hours == 6  # 11 + 6 = 17
    with pytest.raises(errors.RegularisationAboveFullYear):
        agent.regularise_year(2018, SIRET, 1, SIGNED, OP)


def test_a_regularisation_never_takes_the_year_below_zero() -> None:
    agent = new_agent()
    line(agent, 2021)
    agent.regularise_year(2021, SIRET, -20, SIGNED, OP)
    with pytest.raises(errors.RegularisationTooLarge):
        agent.regularise_year(2021, SIRET, -6, SIGNED, OP)
    agent.regularise_year(2021, SIRET, -5, SIGNED, OP)
    assert agent.balance == 0


def test_a_positive_regularisation_is_capped_by_the_ceiling_and_says_what_it_credited() -> None:
    agent = new_agent()
    agent.convert_dif(100, OP)
    assert line(agent, 2020, "803.5") == 13  # from 100 h, a full 2020 would credit 25 h
    line(agent, 2021)
    line(agent, 2022)  # 113 + 25 + 12 (capped): the counter is at its ceiling
    assert agent.balance == 150
    receipt = agent.regularise_year(2020, SIRET, 12, SIGNED, OP)  # within 2020's full year
    assert (receipt.requested, receipt.hours, agent.balance) == (12, 0, 150)
    assert agent.pending_events[-1].applied == 0  # the event says what it really credited


def test_a_late_line_after_a_regularisation_stays_within_a_full_year() -> None:
    agent = new_agent()
    line(agent, 2022, "803.5")
    agent.regularise_year(2022, SIRET, 12, SIGNED, OP)  # the year is full: 25 h
    assert line(agent, 2022, "803.5", siret=OTHER) == 0


# ----------------------------------------------------------------- decrements


def test_a_decrement_the_reserve_covers_is_accepted_whatever_the_counter_holds() -> None:
    agent = new_agent()
    line(agent, 2023)
    agent.decrement("d1", SIRET, 37, {}, date(2024, 1, 10), OP, anticipated=True)
    assert agent.balance == -12
    agent.declare_dif_reserve(SIRET, 55, OP)
    receipt = agent.decrement("d2", SIRET, 46, {}, date(2024, 2, 10), OP)
    assert (receipt.reserve_hours, receipt.hours, agent.balance) == (-46, 0, -12)
    with pytest.raises(errors.InsufficientBalance) as refused:
        agent.decrement("d3", SIRET, 10, {}, date(2024, 3, 10), OP)  # 9 h left in the reserve
    assert refused.value.details == {"needed": 10, "available": 9}
    assert str(agent.balance) not in refused.value.message  # figures only in the details


def test_the_reserve_of_another_siret_is_never_used() -> None:
    agent = new_agent()
    line(agent, 2023)
    agent.declare_dif_reserve(OTHER, 80, OP)
    with pytest.raises(errors.InsufficientBalance):
        agent.decrement("d1", SIRET, 30, {}, date(2024, 1, 10), OP)
    with pytest.raises(errors.DifReserveAlreadyDeclared):
        agent.declare_dif_reserve(OTHER, 10, OP)


def test_no_anticipation_after_any_closure() -> None:
    agent = new_agent()
    line(agent, 2023)
    agent.close(ClosureReason.INVALIDITY, date(2024, 6, 30), OP)
    with pytest.raises(errors.AnticipationAfterClosure):
        agent.decrement("d1", SIRET, 138, {}, date(2024, 9, 1), OP, anticipated=True)
    agent.decrement("d2", SIRET, 25, {}, date(2024, 9, 1), OP, anticipated=True)  # within it
    assert agent.balance == 0


# ------------------------------------------------------------- effective dates


def test_each_movement_is_dated_by_the_rules() -> None:
    agent = new_agent()
    dates = {
        "line": agent.record_acquisition_line(2021, SIRET, Decimal(1607), OP),
        "dif": agent.convert_dif(10, OP),
        "reserve": agent.declare_dif_reserve(SIRET, 30, OP),
        "regularisation": agent.regularise_year(2021, SIRET, -1, SIGNED, OP),
        "low": agent.declare_low_qualification(2022, OP),
        "decrement": agent.decrement("d1", SIRET, 5, {}, date(2023, 4, 3), OP),
        "cancel": agent.cancel_decrement("d1", "cancelled", OP),
        "inaptitude": agent.credit_inaptitude(5, date(2023, 5, 6), OP),
        "closure": agent.close(ClosureReason.RETIREMENT, date(2023, 7, 1), OP),
    }
    assert {name: receipt.effective_date for name, receipt in dates.items()} == {
        "line": date(2021, 12, 31),
        "dif": date(2016, 12, 31),
        "reserve": date(2016, 12, 31),
        "regularisation": date(2021, 12, 31),
        "low": date(2022, 1, 1),
        "decrement": date(2023, 4, 3),
        "cancel": date(2023, 4, 3),
        "inaptitude": date(2023, 5, 6),
        "closure": date(2023, 7, 1),
    }


def test_an_operators_date_the_rules_forbid_is_refused() -> None:
    agent = new_agent()
    line(agent, 2023)
    agent.decrement("d1", SIRET, 5, {}, date(2024, 3, 1), OP)
    tomorrow = date.today() + timedelta(days=1)
    for refused in (
        lambda: agent.credit_inaptitude(5, tomorrow, OP),
        lambda: agent.credit_inaptitude(5, date(2016, 6, 1), OP),  # before the CPF
        lambda: agent.close(ClosureReason.RETIREMENT, tomorrow, OP),
        lambda: agent.close(ClosureReason.RETIREMENT, date(2022, 12, 31), OP),  # 2023 credited
        lambda: agent.close(ClosureReason.RETIREMENT, date(2024, 2, 1), OP),  # a later training
        lambda: Agent.register(
            uuid.uuid4(), Identity("180057505600167", "A", "B", date(1980, 1, 1)), tomorrow, OP
        ),
    ):
        with pytest.raises(errors.InvalidEffectiveDate):
            refused()
    agent.close(ClosureReason.INVALIDITY, date(2024, 2, 1), OP)  # invalidity: use goes on


def test_low_qualification_is_never_retroactive_whatever_its_effective_date() -> None:
    agent = new_agent()
    line(agent, 2021)
    with pytest.raises(errors.RetroactiveDeclaration) as refused:
        agent.declare_low_qualification(2019, OP)  # 2021 is credited, as recorded now
    assert refused.value.details == {"credited_years": [2021]}
    receipt = agent.declare_low_qualification(2022, OP)
    assert receipt.effective_date == date(2022, 1, 1)
    assert line(agent, 2022) == 50


def test_a_late_line_before_the_declaration_uses_that_years_standard_rules() -> None:
    agent = new_agent()
    line(agent, 2021)
    agent.declare_low_qualification(2022, OP)
    line(agent, 2022)
    assert line(agent, 2021, siret=OTHER) == 0  # 2021 was full already, at the standard rate
    agent.balance = 140
    assert line(agent, 2020) == 10  # standard ceiling 150 for 2020, not 400
    assert rules.ceiling(2020, False) == 150
