"""API keys resolved to principals once per ``LEDGER_KEY_CACHE_SECONDS``, not on every request.

Resolving a key replays its aggregate (and, for an employer, its establishment's) from the event
store: several queries per request. The principal is kept for a bounded time, by a digest of the
key (never the key itself). A revocation, a user's removal or a delegation change made through
this process clears the cache at once; one made through another process takes effect there
within the cache's lifetime. Unknown and revoked keys are never kept.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable

from ledger.domain.access import Principal

MAX_ENTRIES = 10_000


class PrincipalCache:
    """Principals by key digest, each kept ``seconds`` (0: never kept)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._entries: dict[bytes, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def get(self, token: str, resolve: Callable[[], Principal | None]) -> Principal | None:
        """The principal of ``token``: kept, or resolved now (and kept when it is valid)."""
        if self.seconds <= 0:
            return resolve()
        digest = hashlib.sha256(token.encode()).digest()
        now = time.monotonic()
        found = self._entries.get(digest)
        if found is not None and found[0] > now:
            return found[1]
        principal = resolve()
        if principal is not None:
            with self._lock:
                if len(self._entries) >= MAX_ENTRIES:
                    self._entries.clear()
                self._entries[digest] = (now + self.seconds, principal)
        return principal

    def clear(self) -> None:
        """Forget every principal (an access change was made through this process)."""
        with self._lock:
            self._entries.clear()
