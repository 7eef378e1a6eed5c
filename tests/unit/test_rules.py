from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain import rules
from ledger.domain.errors import InvalidHours, InvalidInput


def test_full_years_before_and_after_2020() -> None:
    assert rules.yearly_entitlement(2017, Fraction(1), 0, False) == 24
    assert rules.yearly_entitlement(2020, Fraction(1), 0, False) == 25
    assert rules.yearly_entitlement(2019, Fraction(1), 0, True) == 48
    assert rules.yearly_entitlement(2021, Fraction(1), 0, True) == 50


def test_the_120_hour_step_worked_example() -> None:
    # Counter 110 h, full year 2018: 10 h reach 120 h using 10/24 of the year, the rest gives 7 h.
    assert rules.yearly_entitlement(2018, Fraction(1), 110, False) == 17


def test_above_the_step_2017_2019_accrue_12_hours() -> None:
    assert rules.yearly_entitlement(2019, Fraction(1), 120, False) == 12
    assert rules.yearly_entitlement(2020, Fraction(1), 120, False) == 25  # no step from 2020


def test_ceilings_150_and_400() -> None:
    assert rules.yearly_entitlement(2021, Fraction(1), 140, False) == 10
    assert rules.yearly_entitlement(2021, Fraction(1), 150, False) == 0
    assert rules.yearly_entitlement(2021, Fraction(1), 160, False) == 0
    assert rules.yearly_entitlement(2021, Fraction(1), 380, True) == 20


def test_prorating_sums_lines_caps_at_one_and_rounds_up_once() -> None:
    # 803.5 h of 1607 = half a year: 12.5 h -> 13 h.
    assert rules.yearly_entitlement(2021, rules.worked_fraction(Fraction("803.5")), 0, False) == 13
    assert rules.worked_fraction(3000) == 1
    # Two lines of 1/3 year each, rounded once on the total: 2/3 * 25 = 16.67 -> 17 (not 9 + 9).
    fraction = rules.worked_fraction(Fraction(1607, 3) * 2)
    assert rules.yearly_entitlement(2021, fraction, 0, False) == 17


def test_days_convert_at_six_hours_and_half_days_at_three() -> None:
    assert rules.training_hours(days=2) == 12
    assert rules.training_hours(days=Fraction(5, 2)) == 15
    assert rules.training_hours(hours=7) == 7
    with pytest.raises(InvalidHours):
        rules.training_hours(days=Fraction(1, 3))
    with pytest.raises(InvalidHours):
        rules.training_hours(hours=3, days=1)


@pytest.mark.parametrize("hours", [0, -3, 2.5, "4", True])
def test_hours_must_be_whole_and_positive(hours: object) -> None:
    with pytest.raises(InvalidHours):
        rules.positive_whole_hours(hours)


def test_no_rules_before_2017() -> None:
    with pytest.raises(InvalidInput):
        rules.rule_set_for(2016)


def test_anticipation_floor_is_twice_the_yearly_rate() -> None:
    assert rules.anticipation_floor(2021, False) == -50
    assert rules.anticipation_floor(2018, True) == -96


@given(
    year=st.integers(2017, 2030),
    balance=st.integers(0, 400),
    worked=st.fractions(0, 1),
    low=st.booleans(),
)
def test_entitlement_never_exceeds_rate_nor_ceiling(
    year: int, balance: int, worked: Fraction, low: bool
) -> None:
    credit = rules.yearly_entitlement(year, worked, balance, low)
    assert 0 <= credit <= rules.yearly_rate(year, low)
    assert credit == 0 or balance + credit <= rules.ceiling(year, low)


@given(
    year=st.integers(2017, 2030),
    balance=st.integers(0, 149),
    a=st.fractions(0, 1),
    b=st.fractions(0, 1),
)
def test_entitlement_grows_with_hours_worked(
    year: int, balance: int, a: Fraction, b: Fraction
) -> None:
    low, high = sorted((a, b))
    assert rules.yearly_entitlement(year, low, balance, False) <= rules.yearly_entitlement(
        year, high, balance, False
    )
