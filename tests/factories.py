"""Valid identifiers for tests, computed with the same check digits as the real ones."""

from __future__ import annotations

from stdnum import luhn
from stdnum.fr import nir as stdnum_nir


def make_nir(seq: int, sex: int = 1, year: int = 80, month: int = 5, dept: str = "75") -> str:
    """A valid NIR: sex, year, month, department, commune and order number from ``seq`` (unique below ~900,000)."""
    order = seq % 999 + 1
    commune = 56 + seq // 999 % 900
    body = f"{sex}{year:02d}{month:02d}{dept}{commune:03d}{order:03d}"
    return body + stdnum_nir.calc_check_digits(body + "00")


def make_siret(seq: int, siren: str = "21750001") -> str:
    """A valid SIRET (Luhn on 14 digits) with a valid SIREN."""
    siren9 = siren + luhn.calc_check_digit(siren)
    nic = f"{seq:04d}"
    body = siren9 + nic
    return body + luhn.calc_check_digit(body)
