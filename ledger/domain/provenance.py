"""Where a movement came from: who, through what channel, from which file line or request."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Channel(StrEnum):
    API = "api"
    CONSOLE = "console"
    CLI = "cli"
    CAMPAIGN = "campaign"
    DECREMENT_FILE = "decrement_file"
    REGULARISATION = "regularisation"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Provenance:
    """Carried by every event: the principal, the channel, the source and the idempotency key.

    ``source`` names the file and line (``campaign:<sha256>:42``) or the request id.
    ``fingerprint`` is a digest of the command's content, to tell a retry from a conflicting reuse
    of the same idempotency key.
    """

    principal: str
    channel: Channel
    source: str | None = None
    idempotency_key: str | None = None
    fingerprint: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form, as stored in the events."""
        return {  # the fields in order (the stored bytes depend on it), without asdict's copies
            "principal": self.principal,
            "channel": str(self.channel),
            "source": self.source,
            "idempotency_key": self.idempotency_key,
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Provenance:
        """Inverse of :meth:`as_dict`."""
        return cls(**{**data, "channel": Channel(data["channel"])})
