"""NIR and SIRET value types, and the pseudonymous agent id derived from a NIR.

python-stdnum checks formats and check digits; the checks it lacks (sex digit, month ranges,
all-zero numbers) are added here. Error messages never repeat the number itself.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import uuid
from dataclasses import dataclass

from stdnum.exceptions import ValidationError
from stdnum.fr import nir as stdnum_nir
from stdnum.fr import siret as stdnum_siret

from ledger.domain.errors import InvalidNir, InvalidSiret

# 1, 2: persons registered at birth; 3, 4: foreigners being registered; 7, 8: temporary NIA.
_NIR_SEX_DIGITS = frozenset("123478")


def _nir_month_is_valid(month: int) -> bool:
    # 01–12 real months; 20 and 30–42 "unknown/fictitious" months (INSEE); 50–99 for temporary numbers.
    return 1 <= month <= 12 or month == 20 or 30 <= month <= 42 or 50 <= month <= 99


@dataclass(frozen=True, slots=True)
class Nir:
    """A French social security number (NIR, or a temporary NIA of the same shape), normalised.

    ``repr`` masks the number so it cannot leak into logs by accident.
    """

    value: str

    @classmethod
    def parse(cls, raw: str) -> Nir:
        """Validate and normalise a NIR (spaces and dots allowed, Corsica ``2A``/``2B``)."""
        if not isinstance(raw, str):
            raise InvalidNir("NIR must be a string")
        if len(raw) == 15 and raw.isascii() and raw.isdigit():
            # python-stdnum's check on the common shape, without its clean-up passes (a
            # campaign parses millions): 97 minus the first 13 digits modulo 97.
            if f"{97 - int(raw[:13]) % 97:02d}" != raw[13:]:
                raise InvalidNir("invalid NIR: wrong check digits")
            value = raw
        else:
            try:
                value = stdnum_nir.validate(raw)
            except ValidationError as exc:
                raise InvalidNir(f"invalid NIR: {_reason(exc)}") from None
        if value[0] not in _NIR_SEX_DIGITS:
            raise InvalidNir("invalid NIR: unknown sex digit")
        if not _nir_month_is_valid(int(value[3:5])):
            raise InvalidNir("invalid NIR: month out of range")
        if value[7:13] == "000000":
            raise InvalidNir("invalid NIR: empty birth place and order number")
        return cls(value)

    def __repr__(self) -> str:
        return "Nir(***)"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class Siret:
    """A French establishment number (14 digits), normalised."""

    value: str

    @classmethod
    def parse(cls, raw: str) -> Siret:
        """Validate and normalise a SIRET (Luhn on all 14 digits, La Poste rule)."""
        if not isinstance(raw, str):
            raise InvalidSiret("SIRET must be a string")
        return _parse_siret(raw)

    @property
    def siren(self) -> str:
        """The company (SIREN) part: the first nine digits."""
        return self.value[:9]

    def __str__(self) -> str:
        return self.value


@functools.lru_cache(maxsize=65536)
def _parse_siret(raw: str) -> Siret:
    # Cached: a campaign file repeats a few thousand SIRETs over millions of lines.
    compact = stdnum_siret.compact(raw)
    if compact.isdigit() and len(compact) == 14 and set(compact) == {"0"}:
        raise InvalidSiret("invalid SIRET: all zeros")
    try:
        value = stdnum_siret.validate(raw)
    except ValidationError as exc:
        raise InvalidSiret(f"invalid SIRET: {_reason(exc)}") from None
    return Siret(value)


def _reason(exc: ValidationError) -> str:
    name = type(exc).__name__
    return {
        "InvalidChecksum": "wrong check digits",
        "InvalidLength": "wrong length",
        "InvalidFormat": "wrong format",
    }.get(name, "not valid")


def agent_id_for(nir: Nir, key: bytes) -> uuid.UUID:
    """The pseudonymous, stable aggregate id of the agent with this NIR (HMAC-SHA256 under ``key``).

    The same NIR and key always give the same id, so imports are idempotent; without the key the id
    reveals nothing about the NIR.
    """
    digest = hmac.new(key, nir.value.encode("ascii"), hashlib.sha256).digest()
    return uuid.UUID(bytes=digest[:16], version=4)


__all__ = ["Nir", "Siret", "agent_id_for"]
