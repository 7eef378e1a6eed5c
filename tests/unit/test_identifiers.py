from __future__ import annotations

import pytest

from ledger.domain.errors import InvalidNir, InvalidSiret
from ledger.domain.identifiers import Nir, Siret, agent_id_for
from tests.factories import make_nir, make_siret


def test_a_valid_nir_is_normalised_from_spaces_and_dots() -> None:
    nir = make_nir(12)
    spaced = f"{nir[0]} {nir[1:3]} {nir[3:5]} {nir[5:7]}.{nir[7:10]} {nir[10:13]} {nir[13:]}"
    assert Nir.parse(spaced).value == nir


def test_corsican_departments_use_19_and_18_for_the_key() -> None:
    assert Nir.parse("253072B07300470").value == "253072B07300470"
    assert Nir.parse("253072A07300443").value == "253072A07300443"
    with pytest.raises(InvalidNir):
        Nir.parse("253072A07300470")


@pytest.mark.parametrize(
    ("nir", "reason"),
    [
        ("180057505600168", "check digits"),
        ("18005750560016", "length"),
        ("580057505600167", "sex"),
        ("181357505600100", "month"),
        ("1800575X5600167", "format"),
    ],
)
def test_invalid_nirs_are_refused_without_echoing_the_number(nir: str, reason: str) -> None:
    with pytest.raises(InvalidNir) as caught:
        Nir.parse(nir)
    assert nir not in str(caught.value)
    assert caught.value.code == "invalid_nir"


def test_sex_and_month_checks_are_real() -> None:
    # Same body with a valid key: only the sex digit (5) or the month (13) makes it wrong.
    from stdnum.fr import nir as stdnum_nir

    for body in ("5800575056001", "1801375056001"):
        candidate = body + stdnum_nir.calc_check_digits(body + "00")
        with pytest.raises(InvalidNir):
            Nir.parse(candidate)


def test_nir_repr_never_shows_the_number() -> None:
    nir = Nir.parse(make_nir(3))
    assert nir.value not in repr(nir) and nir.value not in str(nir)


def test_siret_luhn_la_poste_and_all_zeros() -> None:
    assert Siret.parse(make_siret(7)).value == make_siret(7)
    assert Siret.parse("356 000 000 00048").value == "35600000000048"
    assert Siret.parse("35600000049837").value == "35600000049837"  # La Poste: digit sum % 5
    with pytest.raises(InvalidSiret):
        Siret.parse("35600000049838")
    with pytest.raises(InvalidSiret):
        Siret.parse("00000000000000")
    bad = make_siret(7)[:-1] + str((int(make_siret(7)[-1]) + 1) % 10)
    with pytest.raises(InvalidSiret):
        Siret.parse(bad)
    with pytest.raises(InvalidSiret):
        Siret.parse("1234")


def test_agent_id_is_stable_keyed_and_pseudonymous() -> None:
    nir = Nir.parse(make_nir(1))
    first = agent_id_for(nir, b"k" * 32)
    assert first == agent_id_for(nir, b"k" * 32)
    assert first != agent_id_for(nir, b"j" * 32)
    assert first != agent_id_for(Nir.parse(make_nir(2)), b"k" * 32)
    assert nir.value not in str(first) and nir.value not in first.hex
