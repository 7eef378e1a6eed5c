"""How an account, an e-mail index and a login address are named: deterministic ids, and the one
form an e-mail address is compared in."""

from __future__ import annotations

import uuid

from ledger.domain.accounts.refusals import InvalidEmail

NAMESPACE = uuid.UUID("9a4c3f0e-2b71-4d5a-8f7e-6c1d0b9e8a21")


def normalise_email(email: str) -> str:
    """The form an address is compared in: trimmed, lower case; refused when it is not one."""
    value = email.strip().lower()
    local, at, domain = value.partition("@")
    if (
        not at
        or not local
        or "." not in domain
        or domain.startswith(".")
        or domain.endswith(".")
        or len(value) > 254
        or any(c.isspace() or not c.isprintable() or c in '<>()[],;:"\\' for c in value)
        or "@" in domain
    ):
        raise InvalidEmail("not an e-mail address")
    return value


def account_id(user_id: str) -> uuid.UUID:
    """The account of a user (an employer user of an establishment, or a CDC person)."""
    return uuid.uuid5(NAMESPACE, f"account:{user_id}")


def email_index_id(email: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"email:{normalise_email(email)}")


def login_address_id(address_ref: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"address:{address_ref}")
