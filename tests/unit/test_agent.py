"""The Agent aggregate on its own: movements, invariants and the worked examples of DOMAIN.md."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest

from ledger.domain import errors
from ledger.domain.agent import Agent, ClosureReason, Identity, Status
from ledger.domain.provenance import Channel, Provenance

OP = Provenance("operator:test", Channel.CLI)
SIRET = "21750001600019"
OTHER = "21750001600027"
ATTESTATION = {"signatory": "Mme Martin", "signature_date": "2024-03-01", "stamp_present": True}


def new_agent() -> Agent:
    identity = Identity("180057505600167", "Dupont", "Jean", date(1980, 5, 1))
    return Agent.register(uuid.uuid4(), identity, date(2017, 1, 1), OP)


def full_year(agent: Agent, year: int, siret: str = SIRET, hours: str = "1607") -> int:
    return agent.record_acquisition_line(year, siret, Decimal(hours), OP).hours


def test_dif_kept_by_the_employer_is_consumed_first() -> None:
    # CDC guide: counter 48 h, undeclared DIF 80 h, training of 100 h -> 80 h DIF, 20 h counter.
    agent = new_agent()
    full_year(agent, 2017)
    full_year(agent, 2018)
    assert agent.balance == 48
    agent.declare_dif_reserve(SIRET, 80, OP)
    receipt = agent.decrement("d1", SIRET, 100, {}, date(2019, 3, 1), OP)
    assert (receipt.reserve_hours, receipt.hours, agent.balance) == (-80, -20, 28)


def test_training_of_50_hours_is_taken_from_the_dif_only() -> None:
    agent = new_agent()
    full_year(agent, 2017)
    full_year(agent, 2018)
    agent.declare_dif_reserve(SIRET, 80, OP)
    agent.decrement("d1", SIRET, 50, {}, date(2019, 3, 1), OP)
    assert (agent.reserve, agent.balance) == (30, 48)


def test_another_employers_reserve_is_not_used() -> None:
    agent = new_agent()
    full_year(agent, 2020)
    agent.declare_dif_reserve(OTHER, 80, OP)
    agent.decrement("d1", SIRET, 10, {}, date(2021, 3, 1), OP)
    assert (agent.reserve, agent.balance) == (80, 15)


def test_late_line_credits_only_the_difference_as_if_lines_came_together() -> None:
    late = new_agent()
    first = late.record_acquisition_line(2021, SIRET, Decimal(600), OP).hours
    second = late.record_acquisition_line(2021, OTHER, Decimal(500), OP).hours
    assert first == 10  # 600/1607*25 = 9.33 -> 10
    assert first + second == 18  # 1100/1607*25 = 17.1 -> 18, rounded once on the total


def test_same_line_again_changes_nothing_other_hours_are_a_regularisation() -> None:
    agent = new_agent()
    full_year(agent, 2021)
    again = agent.record_acquisition_line(2021, SIRET, Decimal(1607), OP)
    assert again.replayed and agent.version == 2
    with pytest.raises(errors.AcquisitionLineConflict):
        agent.record_acquisition_line(2021, SIRET, Decimal(800), OP)


def test_a_line_at_the_ceiling_is_recorded_with_zero_hours() -> None:
    agent = new_agent()
    for year in range(2017, 2024):
        full_year(agent, year)
    assert agent.balance == 150
    receipt = agent.record_acquisition_line(2024, OTHER, Decimal(1607), OP)
    assert receipt.hours == 0 and agent.year_lines[2024] == {OTHER: Decimal(1607)}


def test_ceiling_includes_dif_hours() -> None:
    agent = new_agent()
    agent.convert_dif(120, OP)
    assert full_year(agent, 2017) == 12  # above the 120 h step: 12 h a year
    assert full_year(agent, 2018) == 12
    assert full_year(agent, 2019) == 6  # capped at 150, DIF hours included
    with pytest.raises(errors.DifAlreadyConverted):
        agent.convert_dif(10, OP)


def test_dif_conversion_is_between_1_and_120_hours() -> None:
    agent = new_agent()
    with pytest.raises(errors.InvalidHours):
        agent.convert_dif(121, OP)
    with pytest.raises(errors.InvalidHours):
        agent.convert_dif(0, OP)
    assert agent.version == 1


def test_low_qualification_applies_from_its_year_never_before() -> None:
    agent = new_agent()
    full_year(agent, 2020)
    with pytest.raises(errors.RetroactiveDeclaration):
        agent.declare_low_qualification(2020, OP)
    agent.declare_low_qualification(2021, OP)
    assert full_year(agent, 2021) == 50
    with pytest.raises(errors.LowQualificationAlreadyDeclared):
        agent.declare_low_qualification(2022, OP)


def test_anticipation_only_when_flagged_and_within_twice_the_yearly_rate() -> None:
    agent = new_agent()
    full_year(agent, 2021)  # 25 h
    with pytest.raises(errors.InsufficientBalance):
        agent.decrement("d1", SIRET, 30, {}, date(2022, 1, 10), OP)
    with pytest.raises(errors.AnticipationLimitExceeded):
        agent.decrement("d1", SIRET, 76, {}, date(2022, 1, 10), OP, anticipated=True)
    assert agent.version == 2
    receipt = agent.decrement("d1", SIRET, 75, {}, date(2022, 1, 10), OP, anticipated=True)
    assert receipt.balance_after == -50


def test_cancellation_restores_counter_and_reserve_once() -> None:
    agent = new_agent()
    full_year(agent, 2021)
    agent.declare_dif_reserve(SIRET, 10, OP)
    agent.decrement("d1", SIRET, 20, {}, date(2022, 1, 10), OP)
    assert (agent.reserve, agent.balance) == (0, 15)
    agent.cancel_decrement("d1", "training cancelled", OP)
    assert (agent.reserve, agent.balance) == (10, 25)
    with pytest.raises(errors.DecrementAlreadyCancelled):
        agent.cancel_decrement("d1", "again", OP)
    with pytest.raises(errors.DecrementNotFound):
        agent.cancel_decrement("nope", "x", OP)


def test_regularisation_needs_a_complete_attestation() -> None:
    agent = new_agent()
    full_year(agent, 2021)
    with pytest.raises(errors.IncompleteAttestation) as caught:
        agent.regularise_year(2021, SIRET, 5, {"signatory": " "}, OP)
    assert caught.value.details["missing"] == ["signatory", "signature_date", "stamp_present"]
    agent.regularise_year(2021, SIRET, -5, ATTESTATION, OP)
    assert agent.balance == 20
    with pytest.raises(errors.RegularisationTooLarge):
        agent.regularise_year(2021, SIRET, -21, ATTESTATION, OP)


def test_inaptitude_credit_is_above_the_ceiling_and_capped_over_a_career() -> None:
    agent = new_agent()
    for year in range(2017, 2024):
        full_year(agent, year)
    agent.credit_inaptitude(100, date(2024, 1, 1), OP)
    assert agent.balance == 250
    with pytest.raises(errors.InaptitudeLimitExceeded):
        agent.credit_inaptitude(51, date(2024, 1, 1), OP)
    agent.credit_inaptitude(50, date(2024, 1, 1), OP)


def test_retirement_stops_credits_and_decrements_invalidity_keeps_decrements() -> None:
    retired = new_agent()
    full_year(retired, 2021)
    retired.close(ClosureReason.RETIREMENT, date(2022, 1, 1), OP)
    assert retired.status is Status.CLOSED
    with pytest.raises(errors.AccountClosed):
        full_year(retired, 2022)
    with pytest.raises(errors.AccountClosed):
        retired.decrement("d1", SIRET, 5, {}, date(2022, 2, 1), OP)
    invalid = new_agent()
    full_year(invalid, 2021)
    invalid.close(ClosureReason.INVALIDITY, date(2022, 1, 1), OP)
    invalid.decrement("d1", SIRET, 5, {}, date(2022, 2, 1), OP)
    with pytest.raises(errors.AccountClosed):
        invalid.credit_inaptitude(5, date(2022, 2, 1), OP)


def test_idempotency_key_replays_the_first_outcome_or_conflicts() -> None:
    agent = new_agent()
    full_year(agent, 2021)
    keyed = Provenance("employer:x", Channel.API, idempotency_key="k1", fingerprint="f1")
    first = agent.decrement("d1", SIRET, 5, {}, date(2022, 1, 10), keyed)
    replay = agent.previous_outcome(keyed)
    assert replay is not None and replay.replayed and replay.decrement_id == first.decrement_id
    with pytest.raises(errors.IdempotencyConflict):
        agent.previous_outcome(
            Provenance("employer:x", Channel.API, idempotency_key="k1", fingerprint="f2")
        )


def test_identity_matching_ignores_case_and_accents() -> None:
    from ledger.domain.identifiers import Nir

    identity = Identity("180057505600167", "Lefèvre-Dupont", "Zoé", date(1980, 5, 1))
    assert identity.matches(Nir.parse("180057505600167"), "LEFEVRE DUPONT")
    assert not identity.matches(Nir.parse("180057505600167"), "LEFEVRE")
