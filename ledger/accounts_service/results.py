"""What the account service hands back (codes issued, people enabled, sessions opened) and the
refusals that belong to it rather than to the account's own state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger.domain import errors
from ledger.domain.accounts import Account, AccountConflict


class InvalidSecondFactor(errors.InvalidInput):
    """At enrolment: the code does not come from the secret being enrolled."""

    code = "invalid_second_factor"


class EnrolmentRequired(AccountConflict):
    code = "enrolment_required"


@dataclass(frozen=True)
class Activation:
    """A one-time code issued: e-mailed (``sent_to``), or ``code`` to show once."""

    expires_at: datetime
    code: str | None
    sent_to: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "expires_at": self.expires_at.isoformat(),
            "code": self.code,
            "sent_to": self.sent_to,
        }


@dataclass(frozen=True)
class Enabled:
    """A person enabled: the account and its first activation code."""

    account: Account
    activation: Activation
    created: bool = True


@dataclass(frozen=True)
class NewSession:
    """A session opened at login: ``session_id`` goes into the cookie and is never kept."""

    session_id: str
    csrf_token: str
    session_ref: str
    user_id: str
    expires_at: datetime
    idle_expires_at: datetime
