"""Free text the ledger accepts: printable characters only.

PostgreSQL refuses NUL in text, spreadsheets and terminals act on other control characters: a
value holding them is refused where it enters, naming the field and never repeating the value.
"""

from __future__ import annotations

import re

from ledger.domain.errors import InvalidInput

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # tab, line feed allowed


def has_control(value: str, multiline: bool = False) -> bool:
    """Whether ``value`` holds a control character (tab and line feed allowed if multiline)."""
    return bool((_CONTROL_BUT_LINES if multiline else _CONTROL).search(value))


def printable(field: str, value: str, multiline: bool = False) -> str:
    """``value`` if it holds no control character; InvalidInput naming ``field`` otherwise."""
    if has_control(value, multiline):
        raise InvalidInput(f"{field}: control characters are not allowed")
    return value


def printable_values(field: str, values: dict[str, object]) -> None:
    """Every string of a small record (a training, an attestation) is printable."""
    for name, value in values.items():
        if isinstance(value, str):
            printable(f"{field}.{name}", value)
