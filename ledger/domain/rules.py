"""Acquisition rules as data (décret n° 2017-928 art. 3, as amended by décret n° 2019-1392).

A new decree is a new row in ``RULE_SETS``. Everything here is pure: no I/O, no clock.
Arithmetic is exact (``Fraction``) so that rounding up happens once, on the yearly total.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from ledger.domain.errors import (
    AnticipationAfterClosure,
    AnticipationLimitExceeded,
    InsufficientBalance,
    InvalidHours,
    InvalidInput,
    RegularisationAboveFullYear,
    RegularisationTooLarge,
)

LEGAL_ANNUAL_HOURS = 1607
"""Legal annual working time: the denominator of the temps non complet fraction."""

HOURS_PER_DAY = 6
HOURS_PER_HALF_DAY = 3

DIF_CONVERSION_MAX = 120
INAPTITUDE_CAREER_MAX = 150
FIRST_YEAR = 2017


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Rates and ceilings for a range of calendar years (``last_year`` None: still in force)."""

    first_year: int
    last_year: int | None
    standard_rate: int
    standard_ceiling: int
    low_qualification_rate: int
    low_qualification_ceiling: int
    # 2017–2019: below ``step_threshold`` hours the standard rate applies, above it ``step_rate``.
    step_threshold: int | None = None
    step_rate: int | None = None

    def covers(self, year: int) -> bool:
        return self.first_year <= year and (self.last_year is None or year <= self.last_year)


RULE_SETS: tuple[RuleSet, ...] = (
    RuleSet(2017, 2019, 24, 150, 48, 400, step_threshold=120, step_rate=12),
    RuleSet(2020, None, 25, 150, 50, 400),
)


def rule_set_for(year: int) -> RuleSet:
    """The rule set in force for calendar year ``year``."""
    for rule_set in RULE_SETS:
        if rule_set.covers(year):
            return rule_set
    raise InvalidInput(f"no acquisition rules for year {year} (CPF starts in {FIRST_YEAR})")


def yearly_rate(year: int, low_qualified: bool) -> int:
    """Hours credited for a full year (before the 2017–2019 step)."""
    rules = rule_set_for(year)
    return rules.low_qualification_rate if low_qualified else rules.standard_rate


def ceiling(year: int, low_qualified: bool) -> int:
    """Ceiling of the whole counter (DIF hours included) for acquisitions of ``year``."""
    rules = rule_set_for(year)
    return rules.low_qualification_ceiling if low_qualified else rules.standard_ceiling


def worked_fraction(hours_worked: Fraction | int) -> Fraction:
    """Share of a full year: hours worked (all lines of the year summed) ÷ 1607, capped at 1.

    Part-time (temps partiel) is declared as full time upstream; only temps non complet is prorated.
    """
    if hours_worked < 0:
        raise InvalidHours("hours worked cannot be negative")
    return min(Fraction(1), Fraction(hours_worked) / LEGAL_ANNUAL_HOURS)


def yearly_entitlement(
    year: int, fraction: Fraction, balance_before: int, low_qualified: bool
) -> int:
    """Whole hours a year's lines entitle the agent to, given the counter before that year's credit.

    Applies the rate (with the 120 h step of 2017–2019 for standard agents), rounds the yearly total
    up once, then caps so the counter never exceeds the ceiling. Never negative.
    """
    if not 0 <= fraction <= 1:
        raise InvalidInput("worked fraction must be between 0 and 1")
    rules = rule_set_for(year)
    rate = yearly_rate(year, low_qualified)
    raw: Fraction
    if low_qualified or rules.step_threshold is None or rules.step_rate is None:
        raw = rate * fraction
    elif balance_before >= rules.step_threshold:
        raw = rules.step_rate * fraction
    else:
        to_threshold = rules.step_threshold - balance_before
        full_rate_part = rate * fraction
        if full_rate_part <= to_threshold:
            raw = full_rate_part
        else:
            # The part of the year that reaches the threshold is consumed at the full rate;
            # the rest of the year's fraction accrues at the step rate.
            remaining_fraction = fraction - Fraction(to_threshold, rate)
            raw = to_threshold + rules.step_rate * remaining_fraction
    credit = math.ceil(raw)
    room = ceiling(year, low_qualified) - balance_before
    return max(0, min(credit, room))


def full_year_credit(year: int, balance_before: int, low_qualified: bool) -> int:
    """What a full year would credit from a counter of ``balance_before`` (rate, step, ceiling)."""
    return yearly_entitlement(year, Fraction(1), balance_before, low_qualified)


def line_credit(
    year: int,
    lines: Sequence[Decimal],
    balance: int,
    credited: int,
    regularised: int,
    year_base: int,
    low_qualified: bool,
) -> int:
    """Hours a new declaration line credits: the year's entitlement over all its ``lines``
    (recomputed from the counter before the year's credits) less what the year's lines already
    credited, within the ceiling. Once a regularisation corrected the year, the year's whole credit
    also stays within a full year's (from the counter at the year's first credit)."""
    return _line_credit(
        year, tuple(lines), balance, credited, regularised, year_base, low_qualified
    )


@functools.lru_cache(maxsize=16384)
def _line_credit(
    year: int,
    lines: tuple[Decimal, ...],
    balance: int,
    credited: int,
    regularised: int,
    year_base: int,
    low_qualified: bool,
) -> int:
    # Pure, and a campaign asks the same question for most agents (a full year from the same
    # counter): remembered rather than recomputed in exact fractions.
    fraction = worked_fraction(Fraction(sum(lines, Decimal(0))))
    entitlement = yearly_entitlement(year, fraction, balance - credited, low_qualified)
    credit = min(entitlement - credited, ceiling(year, low_qualified) - balance)
    if regularised:
        full = full_year_credit(year, year_base, low_qualified)
        credit = min(credit, full - credited - regularised)
    return max(0, credit)


def check_regularisation_bounds(year_credit: int, hours: int, full_year: int) -> None:
    """A regularisation keeps the year's credit between zero and a full year's credit."""
    if year_credit + hours < 0:
        raise RegularisationTooLarge(
            "a regularisation cannot take the year's credit below zero",
            year_credit=year_credit,
        )
    if hours > 0 and year_credit + hours > full_year:
        raise RegularisationAboveFullYear(
            "a regularisation cannot take the year's credit above what a full year credits",
            year_credit=year_credit,
            full_year=full_year,
        )


def decrement_split(hours: int, reserve: int) -> tuple[int, int]:
    """(hours from the SIRET's undeclared-DIF reserve, hours from the counter): reserve first."""
    from_reserve = min(max(reserve, 0), hours)
    return from_reserve, hours - from_reserve


def check_counter_use(
    balance: int,
    hours: int,
    from_reserve: int,
    anticipated: bool,
    open_account: bool,
    floor: int,
) -> None:
    """Whether a decrement of ``hours``, ``from_reserve`` of them from the SIRET's reserve, may
    take the rest from the counter: always when it holds them (or when the reserve covers it all);
    below zero only by a flagged anticipation on an open account, never below ``floor``.

    Messages carry no figure; ``needed`` and ``available`` are details the API shows only to
    callers who may see the agent."""
    after = balance - (hours - from_reserve)
    if after >= 0 or hours == from_reserve:
        return
    if not anticipated:
        raise InsufficientBalance(
            "the counter and the SIRET's undeclared-DIF reserve do not cover this decrement"
            " without anticipation",
            needed=hours,
            available=from_reserve + max(balance, 0),
        )
    if not open_account:
        raise AnticipationAfterClosure(
            "the account is closed: no rights remain to be acquired, so no anticipation"
        )
    if after < floor:
        raise AnticipationLimitExceeded(
            "anticipation cannot take the counter below twice the yearly rate",
            needed=hours,
            available=from_reserve + balance - floor,
            floor=floor,
        )


def training_hours(hours: int | None = None, days: Fraction | int | None = None) -> int:
    """Hours of a training given in hours, or in days (1 day = 6 h, half a day = 3 h)."""
    if (hours is None) == (days is None):
        raise InvalidHours("give the duration either in hours or in days")
    if hours is not None:
        return positive_whole_hours(hours)
    assert days is not None
    half_days = Fraction(days) * 2
    if half_days.denominator != 1 or half_days <= 0:
        raise InvalidHours("a duration in days must be a positive multiple of half a day")
    return int(half_days) * HOURS_PER_HALF_DAY


def positive_whole_hours(hours: object) -> int:
    """Check an hour count is a whole number greater than zero."""
    if isinstance(hours, bool) or not isinstance(hours, int):
        if isinstance(hours, (float, Fraction)) and hours == int(hours):
            hours = int(hours)
        else:
            raise InvalidHours("hours must be a whole number")
    assert isinstance(hours, int)
    if hours <= 0:
        raise InvalidHours("hours must be greater than zero")
    return hours


def anticipation_floor(year: int, low_qualified: bool) -> int:
    """Lowest balance a flagged anticipation may reach: −2 × the agent's current yearly rate."""
    return -2 * yearly_rate(year, low_qualified)
